package repo

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// A uuid column scans into *uuid.UUID from its 16 bytes, without the sql.Scanner detour
// through text (which allocated a string and parsed it for every value), and NULL is refused.
func TestUUIDScansFromItsBytes(t *testing.T) {
	m := pgtype.NewMap()
	registerTypes(m)
	want := uuid.New()
	var got uuid.UUID
	plan := m.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &got)
	if err := plan.Scan(want[:], &got); err != nil || got != want {
		t.Fatalf("binary scan: %v, %v (want %v)", got, err, want)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = plan.Scan(want[:], &got) }); allocs != 0 {
		t.Errorf("%.0f allocations per uuid scanned, want 0", allocs)
	}
	if err := plan.Scan(nil, &got); err == nil {
		t.Error("NULL scanned into *uuid.UUID without an error")
	}
	if err := plan.Scan(want[:15], &got); err == nil {
		t.Error("15 bytes scanned into *uuid.UUID without an error")
	}
	if allocs := testing.AllocsPerRun(100, func() { m.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &got) }); allocs != 0 {
		t.Errorf("%.0f allocations per plan, want 0 (pgx plans each column of each query)", allocs)
	}
	text := m.PlanScan(pgtype.UUIDOID, pgtype.TextFormatCode, &got)
	if err := text.Scan([]byte(want.String()), &got); err != nil || got != want {
		t.Fatalf("text scan: %v, %v", got, err)
	}
	var n uuid.NullUUID // pgx-google-uuid's wrapper still serves the nullable type
	if err := m.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &n).Scan(nil, &n); err != nil || n.Valid {
		t.Errorf("NULL into NullUUID: %+v, %v", n, err)
	}
}
