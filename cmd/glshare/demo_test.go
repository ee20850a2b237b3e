package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDemo runs the headless demo and checks it wrote both sides' PNGs.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	if err := runDemo([]string{"--out", dir, "--frames", "3", "--size", "96x64"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"producer-000.png", "consumer-000.png", "producer-002.png", "consumer-002.png"} {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", n, err)
		}
	}
}
