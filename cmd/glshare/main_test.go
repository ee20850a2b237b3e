package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// printedJSON is v as a command prints it with --json, read back the way
// a script reads it, and the bytes printed: the tests check field names
// on what scripts see, not on Go values.
func printedJSON(t *testing.T, v any) (map[string]any, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := printReport(&b, true, v, nil); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatalf("--json printed %q: %v", b.String(), err)
	}
	return m, b.Bytes()
}
