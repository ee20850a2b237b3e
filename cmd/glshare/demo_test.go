package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo builds glshare and runs the headless demo for real: a broker, a
// GL producer process and a Vulkan consumer process; once on the path the
// drivers allow, once with the copy path forced.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	bin := glshareBinary(t)
	for _, tc := range []struct{ name, env, path string }{
		{"default", "", ""},
		{"forced-copy", "GLBRIDGE_FORCE_COPY=1", "copy (Vulkan memory) because forced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			cmd := exec.Command(bin, "demo", "--out", out, "--frames", "3", "--size", "96x64", "--socket", filepath.Join(dir, tc.name+".sock"))
			cmd.Env = append(os.Environ(), tc.env)
			b, err := cmd.CombinedOutput()
			t.Logf("%s", b)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "demo: all 3 frames match") || !strings.Contains(string(b), tc.path) {
				t.Fatalf("the demo did not report all frames matching on the path %q", tc.path)
			}
			for _, n := range []string{"producer-000.png", "consumer-000.png", "producer-002.png", "consumer-002.png"} {
				if st, err := os.Stat(filepath.Join(out, n)); err != nil || st.Size() == 0 {
					t.Errorf("%s: %v", n, err)
				}
			}
		})
	}
}
