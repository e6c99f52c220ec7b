// Package migrations embeds the SQL migrations so the binary applies them at start-up
// (golang-migrate, iofs source). File names: NNNNNN_name.up.sql / .down.sql.
package migrations

import "embed"

//go:embed *.sql
var FS embed.FS
