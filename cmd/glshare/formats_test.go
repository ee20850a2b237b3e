package main

import (
	"strings"
	"testing"

	"github.com/glbridge/glbridge/bridge"
)

func findRow(t *testing.T, r *formatsReport, format, kind string) formatRow {
	t.Helper()
	for _, row := range r.Rows {
		if row.Format == format && row.Kind == kind {
			return row
		}
	}
	t.Fatalf("no row for %s %s", format, kind)
	return formatRow{}
}

// TestFormatsTable checks info --formats by the table and by probing: one
// row per format and kind plus the buffer, the rows that must be yes and
// no on any driver, and the probe agreeing with the table on every row (a
// disagreement fails the test with the row and the probe's reason).
func TestFormatsTable(t *testing.T) {
	table, err := gatherFormats("", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(bridge.Formats())*len(formatKinds) + 1; len(table.Rows) != want {
		t.Fatalf("%d rows, want %d", len(table.Rows), want)
	}
	rgba := findRow(t, table, "R8G8B8A8_UNORM", "2d")
	if !rgba.Exportable || !rgba.Importable || !rgba.GLImportable || !rgba.Renderable || !rgba.Sampleable || rgba.VkFormat != 37 || rgba.GLCheck != "table" {
		t.Errorf("R8G8B8A8_UNORM 2d: %+v", rgba)
	}
	if d := findRow(t, table, "D16_UNORM", "3d"); d.Exportable || !strings.Contains(d.Reason, "not a Direct3D resource") {
		t.Errorf("D16_UNORM 3d: %+v", d)
	}
	if bc := findRow(t, table, "BC1_UNORM", "3d"); bc.Exportable && (bc.GLImportable || !strings.Contains(bc.Reason, "S3TC")) {
		t.Errorf("BC1_UNORM 3d: %+v", bc)
	}
	if b := findRow(t, table, "UNKNOWN", "buffer"); !b.Exportable || !b.Importable {
		t.Errorf("buffer: %+v", b)
	}
	m, _ := printedJSON(t, table)
	rows, _ := m["rows"].([]any)
	if len(rows) != len(table.Rows) || m["gl_renderer"] == "" {
		t.Fatalf("JSON: %d rows, renderer %v", len(rows), m["gl_renderer"])
	}
	for _, k := range []string{"format", "kind", "vk_format", "exportable", "importable", "dedicated_only", "gl_importable", "gl_check", "renderable", "sampleable"} {
		if _, ok := rows[0].(map[string]any)[k]; !ok {
			t.Errorf("JSON rows lack %q", k)
		}
	}
	var sb strings.Builder
	printFormats(&sb, table)
	if !strings.Contains(sb.String(), "GL column by table") || !strings.Contains(sb.String(), "R8G8B8A8_UNORM         2d") {
		t.Fatalf("text report:\n%s", sb.String())
	}

	probed, err := gatherFormats("", true)
	if err != nil {
		t.Fatal(err)
	}
	// The table's GL column is a claim that GL imports the row's memory;
	// the probe tests the claim on every row. Where they differ, the table
	// (glimport.CheckTexture, or the format table behind it) says
	// something this driver does not do, and programs that trust it fail
	// at import. On Mesa 22.3 (llvmpipe, lavapipe) they agree on every
	// row; a driver with a real exception must be named here case by case.
	importable := 0
	for i, row := range probed.Rows {
		want := table.Rows[i]
		if row.Format != want.Format || row.Kind != want.Kind {
			t.Fatalf("row %d: %s %s probed, %s %s in the table", i, row.Format, row.Kind, want.Format, want.Kind)
		}
		if row.GLCheck != "probe" {
			t.Errorf("%s %s: gl_check %q", row.Format, row.Kind, row.GLCheck)
		}
		switch {
		case row.GLImportable && !want.GLImportable:
			t.Errorf("%s %s (%s): the probe imported what the table says GL cannot (%s)", row.Format, row.Kind, row.Desc, want.Reason)
		case want.GLImportable && !row.GLImportable:
			t.Errorf("%s %s (%s): the table says GL imports it, the probe failed on %s: %s", row.Format, row.Kind, row.Desc, probed.GLRenderer, row.Reason)
		case row.GLImportable:
			importable++
		}
	}
	t.Logf("table and probe compared on %d rows; the probe imported %d", len(probed.Rows), importable)
	// A probe that imported nothing would agree with a table that allowed
	// nothing: the format every driver shares must have been imported.
	if p := findRow(t, probed, "R8G8B8A8_UNORM", "2d"); !p.GLImportable {
		t.Errorf("R8G8B8A8_UNORM 2d probe: %s", p.Reason)
	}
}
