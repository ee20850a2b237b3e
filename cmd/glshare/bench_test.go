package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchQuickJSON runs glshare bench --quick --json for real (with
// fewer frames) and checks the JSON a script would read: every path at
// every quick size, verified, the copy path's w*h*4 bytes through host
// memory, the ratios, the open and broker numbers; and the PNG and the
// --out files.
func TestBenchQuickJSON(t *testing.T) {
	dir := t.TempDir()
	plot := filepath.Join(dir, "plot.png")
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	err := runBench([]string{"--quick", "--json", "--frames", "15", "--seconds", "1", "--open-samples", "50", "--broker-seconds", "0.3", "--plot", plot, "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	var rep struct {
		GLRenderer string `json:"gl_renderer"`
		Handoff    string `json:"handoff"`
		Results    []struct {
			Path        string  `json:"path"`
			Width       int     `json:"width"`
			Height      int     `json:"height"`
			Frames      int     `json:"frames"`
			FPS         float64 `json:"fps"`
			P50         float64 `json:"p50_ms"`
			P99         float64 `json:"p99_ms"`
			BytesCopied uint64  `json:"bytes_copied_per_frame"`
			Verified    bool    `json:"verified"`
		} `json:"results"`
		Ratios []struct {
			Width  int      `json:"width"`
			Height int      `json:"height"`
			ZCB    *float64 `json:"zero_copy_over_baseline"`
			CZC    *float64 `json:"copy_over_zero_copy"`
		} `json:"ratios"`
		Open *struct {
			P50 float64 `json:"open_import_p50_us"`
			P99 float64 `json:"open_import_p99_us"`
		} `json:"open"`
		Broker *struct {
			Clients   int     `json:"clients"`
			OpsPerSec float64 `json:"ops_per_s"`
		} `json:"broker"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.GLRenderer == "" || rep.Handoff == "" {
		t.Errorf("report lacks the renderer or hand-off path: %s", stdout.String())
	}
	type key struct {
		path string
		w, h int
	}
	got := map[key]bool{}
	for _, r := range rep.Results {
		got[key{r.Path, r.Width, r.Height}] = true
		if !r.Verified || r.Frames != 15 || r.FPS <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("result %+v", r)
		}
		want := uint64(0)
		if r.Path == "copy" {
			want = uint64(r.Width * r.Height * 4)
		}
		if r.BytesCopied != want {
			t.Errorf("%s at %dx%d copies %d bytes per frame through host memory, want %d", r.Path, r.Width, r.Height, r.BytesCopied, want)
		}
	}
	for _, sz := range [][2]int{{256, 256}, {512, 512}} {
		for _, p := range []string{"render-only", "baseline", "zero-copy", "copy"} {
			if !got[key{p, sz[0], sz[1]}] {
				t.Errorf("no %s result at %dx%d", p, sz[0], sz[1])
			}
		}
	}
	if len(rep.Results) != 8 {
		t.Errorf("%d results, want 8", len(rep.Results))
	}
	if len(rep.Ratios) != 2 {
		t.Fatalf("%d ratios, want 2", len(rep.Ratios))
	}
	for _, r := range rep.Ratios {
		if r.ZCB == nil || r.CZC == nil || *r.ZCB <= 0 || *r.CZC <= 0 {
			t.Errorf("ratio at %dx%d: %+v", r.Width, r.Height, r)
		}
	}
	if rep.Open == nil || rep.Open.P50 <= 0 || rep.Open.P99 < rep.Open.P50 {
		t.Errorf("open: %+v", rep.Open)
	}
	if rep.Broker == nil || rep.Broker.Clients != 32 || rep.Broker.OpsPerSec <= 0 {
		t.Errorf("broker: %+v", rep.Broker)
	}
	if !strings.Contains(stderr.String(), "512x512: done") {
		t.Errorf("no progress on stderr: %q", stderr.String())
	}
	for _, p := range []string{plot, filepath.Join(out, "bench.png")} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	js, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil || !bytes.Equal(js, stdout.Bytes()) {
		t.Errorf("bench.json differs from the JSON printed (%v)", err)
	}
	txt, err := os.ReadFile(filepath.Join(out, "bench.txt"))
	if err != nil || !strings.Contains(string(txt), "copy / zero-copy") || !strings.Contains(string(txt), rep.GLRenderer) {
		t.Errorf("bench.txt: %v\n%s", err, txt)
	}
}

// TestBenchFlags: bad flags fail before anything is measured. --staging
// is gone (the copy path uploads through vkalloc's kept staging buffer): a
// script that still passes it must fail, not measure something else.
func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--handoff", "carrier-pigeon"}, {"--staging", "none"}, {"--staging", "persistent"}, {"extra"},
		{"--frames", "0"}, {"--draws", "-1"}, {"--seconds", "0"}, {"--clients", "many"},
	} {
		var stdout, stderr bytes.Buffer
		if err := runBench(args, &stdout, &stderr); err == nil {
			t.Errorf("bench %q succeeded", args)
		}
	}
}
