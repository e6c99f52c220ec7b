// Package migrations embeds the SQL migrations so the binary applies them at start-up
// (golang-migrate, iofs source). File names: NNNNNN_name.up.sql / .down.sql.
package migrations

import "embed"

//go:embed *.sql
var FS embed.FS

// NewerCompatible is how many migrations newer than its own this binary can serve. It rests on
// the expand/contract rule every migration follows: a migration only adds (a table, a
// nullable column, an index) and never drops, renames or retypes what the previous release
// reads or writes; removing something the old release used is a later migration, shipped once
// no running binary uses it. So during a rolling deploy the database can be migrated first and
// the old pods stay ready until they are replaced. Order: `server migrate up` (or the first new
// pod, with MIGRATE_ON_START), then roll.
const NewerCompatible = 2
