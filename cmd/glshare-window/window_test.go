package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glbridge/glbridge/cmd/internal/demo"
	"github.com/glbridge/glbridge/testpattern"
)

// startXvfb starts a virtual X server and returns its DISPLAY. Xvfb picks
// a free display number itself (-displayfd), so that displays of other
// servers, and the sockets and locks a killed one left behind, are never a
// reason to fail; it is stopped with SIGTERM, which lets it remove its
// socket and lock, when the test ends.
func startXvfb(t *testing.T) string {
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("Xvfb is not installed (make deps installs it): no X server to open a window on")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(xvfb, "-displayfd", "3", "-screen", "0", "640x480x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	number := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		number <- strings.TrimSpace(line)
	}()
	select {
	case n := <-number:
		if n == "" {
			t.Fatal("Xvfb exited without a display")
		}
		return ":" + n
	case <-time.After(60 * time.Second):
		t.Fatal("Xvfb named no display within 60s")
	}
	return ""
}

// TestWindowDemo runs `glshare demo --window` under Xvfb and checks what
// the window showed on the last frame: the consumer's view, texel for
// texel, under a frame counter.
func TestWindowDemo(t *testing.T) {
	display := startXvfb(t)
	dir := t.TempDir()
	for _, pkg := range []string{".", "../glshare"} {
		if out, err := exec.Command("go", "build", "-o", dir+"/", pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	const w, h, frames = 96, 64, 4
	out := filepath.Join(dir, "png")
	cmd := exec.Command(filepath.Join(dir, "glshare"), "demo", "--window", "--frames", fmt.Sprint(frames), "--size", fmt.Sprintf("%dx%d", w, h), "--out", out, "--socket", filepath.Join(dir, "broker.sock"))
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	b, err := cmd.CombinedOutput()
	t.Logf("%s", b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), fmt.Sprintf("demo: all %d frames match", frames)) || !strings.Contains(string(b), "showed them in a window") {
		t.Fatal("the windowed demo did not report its frames matching and shown")
	}
	win, ww, wh, err := demo.ReadPNG(filepath.Join(out, "window-last.png"))
	if err != nil {
		t.Fatal(err)
	}
	if ww != w || wh != h+counterHeight {
		t.Fatalf("window is %dx%d, want %dx%d", ww, wh, w, h+counterHeight)
	}
	// The picture fills the bottom h rows (GL order: the first in memory).
	if want := testpattern.Expected(w, h, frames-1); !bytes.Equal(win[:w*h*4], want) {
		t.Fatal("the window does not show the last frame's pattern")
	}
	// The counter band holds white digit texels on grey.
	band := win[w*h*4:]
	white := 0
	for i := 0; i < len(band); i += 4 {
		if band[i] == 255 && band[i+1] == 255 && band[i+2] == 255 {
			white++
		}
	}
	if white == 0 {
		t.Fatal("no frame counter drawn above the picture")
	}
}
