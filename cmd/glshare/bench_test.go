package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
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
	err := runBench([]string{"--quick", "--json", "--frames", "15", "--seconds", "1", "--open-samples", "50", "--broker-seconds", "0.3",
		"--alloc-samples", "10", "--first-children", "1", "--plot", plot, "--out", out}, &stdout, &stderr)
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
		serviceJSON
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
		for _, p := range []string{"render-only", "baseline", "zero-copy", "zero-copy-pipelined", "copy"} {
			if !got[key{p, sz[0], sz[1]}] {
				t.Errorf("no %s result at %dx%d", p, sz[0], sz[1])
			}
		}
	}
	if len(rep.Results) != 10 {
		t.Errorf("%d results, want 10", len(rep.Results))
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
	rep.serviceJSON.check(t, 10, 1, stdout.Bytes())
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

// serviceJSON is the service allocation part of bench's JSON, as a script
// reads it.
type serviceJSON struct {
	Allocate *struct {
		Samples          int     `json:"samples"`
		Device           string  `json:"device"`
		AllocateP50      float64 `json:"allocate_p50_us"`
		AllocateImport50 float64 `json:"allocate_import_p50_us"`
		AllocateImport99 float64 `json:"allocate_import_p99_us"`
		ServiceCreate50  float64 `json:"share_service_create_p50_us"`
		ServicePath      string  `json:"share_service_path"`
		InProcess50      float64 `json:"in_process_import_p50_us"`
	} `json:"allocate"`
	First *struct {
		Children  int             `json:"children"`
		Width     int             `json:"width"`
		InProcess json.RawMessage `json:"in_process"`
		Service   json.RawMessage `json:"service"`
		RatioP50  float64         `json:"in_process_over_service_p50"`
		RatioP99  float64         `json:"in_process_over_service_p99"`
	} `json:"first"`
}

// check fails unless the JSON has both service sections with samples
// ALLOCATE iterations and children fresh processes per mode: the broker
// allocated on a device and share's service mode got zero-copy; the
// in-process children loaded libvulkan, the service ones did not and got
// the broker's allocation; the ratio is the p50s'.
func (s serviceJSON) check(t *testing.T, samples, children int, js []byte) {
	t.Helper()
	if a := s.Allocate; a == nil || a.Samples != samples || a.Device == "" || a.AllocateP50 <= 0 || a.AllocateImport50 < a.AllocateP50 ||
		a.AllocateImport99 < a.AllocateImport50 || a.ServiceCreate50 <= 0 || a.ServicePath != "zero-copy" || a.InProcess50 <= 0 {
		t.Errorf("allocate: %+v\n%s", s.Allocate, js)
	}
	f := s.First
	if f == nil || f.Children != children || f.Width != 256 {
		t.Fatalf("first: %+v\n%s", f, js)
	}
	type mode struct {
		Mode         string  `json:"mode"`
		P50          float64 `json:"p50_ms"`
		P99          float64 `json:"p99_ms"`
		Path         string  `json:"path"`
		AllocatedOn  string  `json:"allocated_on"`
		LoadedVulkan bool    `json:"loaded_libvulkan"`
	}
	var in, svc mode
	if json.Unmarshal(f.InProcess, &in) != nil || json.Unmarshal(f.Service, &svc) != nil {
		t.Fatalf("first: %s", js)
	}
	if in.Mode != "in-process" || in.P50 <= 0 || in.P99 < in.P50 || in.Path != "zero-copy" || !in.LoadedVulkan || in.AllocatedOn != "" {
		t.Errorf("first, in-process: %+v", in)
	}
	if svc.Mode != "service" || svc.P50 <= 0 || svc.P99 < svc.P50 || svc.Path != "zero-copy" || svc.LoadedVulkan || svc.AllocatedOn != s.Allocate.Device {
		t.Errorf("first, service: %+v, want it allocated on %q", svc, s.Allocate.Device)
	}
	if f.RatioP50 != in.P50/svc.P50 || f.RatioP99 != in.P99/svc.P99 {
		t.Errorf("first: ratios %v, %v from p50s %v/%v and p99s %v/%v", f.RatioP50, f.RatioP99, in.P50, svc.P50, in.P99, svc.P99)
	}
}

// TestBenchService runs the real glshare binary's bench --service, whose
// first-texture children are glshare re-executing itself, and checks its
// JSON, its table (both sections, no frame table) and --out (no plot,
// nothing to plot).
func TestBenchService(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(glshareBinary(t), "bench", "--service", "--json", "--alloc-samples", "20", "--first-children", "2", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("glshare bench --service: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Results []json.RawMessage `json:"results"`
		serviceJSON
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if len(rep.Results) != 0 {
		t.Errorf("--service measured frames: %s", stdout.String())
	}
	rep.serviceJSON.check(t, 20, 2, stdout.Bytes())
	if n := strings.Count(stderr.String(), "bench: first texture: "); n != 4 {
		t.Errorf("%d progress lines for 2 children per mode:\n%s", n, stderr.String())
	}
	txt, err := os.ReadFile(filepath.Join(out, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ALLOCATE + GL import", "share Create, service (zero-copy)", "first shared texture in a fresh process", "in-process / service:", "not loaded"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("bench.txt lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(string(txt), "render-only") {
		t.Errorf("bench.txt has a frame table:\n%s", txt)
	}
	if _, err := os.Stat(filepath.Join(out, "bench.png")); err == nil {
		t.Errorf("--service wrote a plot of no frames")
	}
}

// TestBenchFlags: bad flags fail before anything is measured. --staging
// is gone (the copy path uploads through vkalloc's kept staging buffer): a
// script that still passes it must fail, not measure something else.
func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--handoff", "carrier-pigeon"}, {"--staging", "none"}, {"--staging", "persistent"}, {"extra"},
		{"--frames", "0"}, {"--draws", "-1"}, {"--seconds", "0"}, {"--clients", "many"},
		{"--alloc-samples", "-1"}, {"--first-children", "some"}, {"--service", "--sizes", "256"}, {"--service", "--share-copy"},
		{"--load", "--sizes", "256"}, {"--load", "--ops", "0"}, {"--load", "--clients", "0"}, {"--load", "--service"}, {"--load", "--broker-scaling"},
		{"--load", "--paced-rate", "5"}, {"--broker-scaling", "--clients", "4"}, {"--broker-scaling", "--scaling-clients", "0"},
		{"--broker-scaling", "--scaling-resources", "1,x"}, {"--broker-scaling", "--paced-rate", "0"}, {"--broker-scaling", "--ops", "5"},
	} {
		var stdout, stderr bytes.Buffer
		if err := runBench(args, &stdout, &stderr); err == nil {
			t.Errorf("bench %q succeeded", args)
		}
	}
}

// TestBenchLoad runs the real glshare binary's bench --load, whose broker
// is glshare re-executing itself as glshare serve, at a reduced size (the
// full one is cmd/internal/bench's TestLoad), and checks the JSON a
// script reads: every operation made without error, nothing left in the
// broker or the client, the broker's fds back to their baseline; and the
// table in --out.
func TestBenchLoad(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(glshareBinary(t), "bench", "--load", "--clients", "16", "--ops", "200", "--seed", "7", "--json", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("glshare bench --load: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var rep struct {
		Clients       int     `json:"clients"`
		Seed          uint64  `json:"seed"`
		Ops           int     `json:"ops"`
		OpsPerSec     float64 `json:"ops_per_s"`
		Requests      int     `json:"requests"`
		Errors        *int    `json:"errors"`
		ResourcesLeft *int    `json:"resources_left"`
		FDsBefore     int     `json:"broker_fds_before"`
		FDsAfter      int     `json:"broker_fds_after"`
		RSSBefore     int     `json:"broker_rss_before_kib"`
		RSSAfter      int     `json:"broker_rss_after_kib"`
		ClientFDsLeft *int    `json:"client_fds_left"`
		PerOp         []struct {
			Op     string `json:"op"`
			Count  int    `json:"count"`
			Errors int    `json:"errors"`
		} `json:"per_op"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Clients != 16 || rep.Seed != 7 || rep.Ops != 16*200 || rep.Requests < rep.Ops || rep.OpsPerSec <= 0 {
		t.Errorf("report: %s", stdout.String())
	}
	if rep.Errors == nil || *rep.Errors != 0 || rep.ResourcesLeft == nil || *rep.ResourcesLeft != 0 || rep.ClientFDsLeft == nil || *rep.ClientFDsLeft != 0 ||
		rep.FDsBefore <= 0 || rep.FDsAfter != rep.FDsBefore || rep.RSSBefore <= 0 || rep.RSSAfter <= 0 {
		t.Errorf("what was left: %s", stdout.String())
	}
	if len(rep.PerOp) < 10 {
		t.Errorf("%d kinds of operation: %s", len(rep.PerOp), stdout.String())
	}
	for _, o := range rep.PerOp {
		if o.Count <= 0 || o.Errors != 0 {
			t.Errorf("%+v", o)
		}
	}
	txt, err := os.ReadFile(filepath.Join(out, "bench.txt"))
	if err != nil || !strings.Contains(string(txt), "open name") || !strings.Contains(string(txt), "errors:    0") {
		t.Errorf("bench.txt: %v\n%s", err, txt)
	}
}

// TestBenchBrokerScaling runs the real binary's bench --broker-scaling
// on a small grid and checks its JSON: a cell per pair in order, each
// measured in both phases; no target judged without its pair; and the
// plot.
func TestBenchBrokerScaling(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "scaling.png")
	cmd := exec.Command(glshareBinary(t), "bench", "--broker-scaling", "--scaling-clients", "1,4", "--scaling-resources", "10",
		"--broker-seconds", "0.2", "--paced-rate", "500", "--json", "--plot", plot)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("glshare bench --broker-scaling: %v\n%s", err, stderr.String())
	}
	var rep struct {
		PacedRate int `json:"paced_rate"`
		Cells     []struct {
			Clients        int     `json:"clients"`
			Resources      int     `json:"live_resources"`
			RequestsPerSec float64 `json:"requests_per_s"`
			OpenP99        float64 `json:"open_p99_us"`
			PacedOpenP99   float64 `json:"paced_open_p99_us"`
		} `json:"cells"`
		Targets []json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.PacedRate != 500 || len(rep.Cells) != 2 || len(rep.Targets) != 0 {
		t.Fatalf("report: %s", stdout.String())
	}
	for i, c := range rep.Cells {
		if c.Clients != []int{1, 4}[i] || c.Resources != 10 || c.RequestsPerSec <= 0 || c.OpenP99 <= 0 || c.PacedOpenP99 <= 0 {
			t.Errorf("cell %d: %+v", i, c)
		}
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", plot, err)
	}
}
