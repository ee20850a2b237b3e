package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glbridge/glbridge/cmd/internal/bench"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/internal/gpuenv"
)

func init() {
	register(command{name: "bench", summary: "measure zero-copy GL->Vulkan hand-off against a copy and a plain GL blit", run: func(args []string) error {
		return runBench(args, os.Stdout, os.Stderr)
	}})
}

var handoffPaths = map[string]handoff.Path{
	"auto": handoff.PathAuto, "timeline": handoff.PathTimeline, "binary": handoff.PathBinary, "fallback": handoff.PathFallback,
}

// runBench is glshare bench: the table (or JSON) goes to stdout, progress
// to stderr.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a short run: 256x256 and 512x512, few frames (for CI)")
	sizes := fs.String("sizes", "", "comma-separated sizes: WxH, N (NxN), 720p, 1080p, 1440p, 4k (default: 256,1080p,4k; on a software renderer 256,512,1080p)")
	frames := fs.Int("frames", 0, "most frames measured per path and size (default: 600, software 200, quick 40)")
	seconds := fs.Float64("seconds", 0, "stop measuring a path at a size after this many seconds of frames (default: 10, software 8, quick 2)")
	warmup := fs.Int("warmup", -1, "warm-up frames per path and size (default: 20, software 5, quick 3)")
	draws := fs.Int("draws", -1, "blended full-screen draws per frame after the test pattern (default 4)")
	hpath := fs.String("handoff", "auto", "zero-copy synchronisation: auto, timeline, binary or fallback")
	openSamples := fs.Int("open-samples", -1, "timed broker opens (0 skips; default 2000, quick 200)")
	clients := fs.Int("clients", -1, "broker throughput clients (0 skips; default 32)")
	brokerSecs := fs.Float64("broker-seconds", 0, "broker throughput duration (default 3, quick 1)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of the table")
	plot := fs.String("plot", "", "also draw frame times into this PNG file")
	out := fs.String("out", "", "also write bench.txt, bench.json and bench.png into this directory")
	platform := fs.String("platform", "", "EGL platform: device or surfaceless (default: the first that works)")
	shareCopy := fs.Bool("share-copy", false, "also measure glbridge's own copy path (package share, forced), for drivers without zero-copy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	hp, ok := handoffPaths[*hpath]
	if !ok {
		return fmt.Errorf("--handoff %q: want auto, timeline, binary or fallback", *hpath)
	}

	env, err := gpuenv.NewEnv(*platform)
	if err != nil {
		return err
	}
	defer env.Close()

	opts := bench.Full(bench.Software(env.ID.Renderer))
	if *quick {
		opts = bench.Quick()
	}
	opts.ShareCopy = *shareCopy
	if *sizes != "" {
		if opts.Sizes, err = bench.ParseSizes(*sizes); err != nil {
			return err
		}
	}
	if *frames > 0 {
		opts.Frames = *frames
		opts.MinFrames = min(opts.MinFrames, *frames)
	}
	if *seconds > 0 {
		opts.Duration = time.Duration(*seconds * float64(time.Second))
	}
	if *warmup >= 0 {
		opts.Warmup = *warmup
	}
	if *draws >= 0 {
		opts.Draws = *draws
	}
	if *openSamples >= 0 {
		opts.OpenSamples = *openSamples
	}
	if *clients >= 0 {
		opts.BrokerClients = *clients
	}
	if *brokerSecs > 0 {
		opts.BrokerDuration = time.Duration(*brokerSecs * float64(time.Second))
	}
	opts.Handoff, opts.Progress = hp, stderr
	fmt.Fprintf(stderr, "bench: GL %s, Vulkan %s; sizes %v, up to %d frames or %v per path and size\n",
		env.ID.Renderer, env.Dev.Caps().DeviceName, opts.Sizes, opts.Frames, opts.Duration)

	rep, err := bench.Run(env, opts)
	if err != nil {
		return err
	}
	rep.Command = "glshare bench " + strings.Join(args, " ")

	var table, js, img bytes.Buffer
	if err := bench.WriteTable(&table, rep); err != nil {
		return err
	}
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if *plot != "" || *out != "" {
		if err := bench.WritePlot(&img, rep); err != nil {
			return err
		}
	}
	if *plot != "" {
		if err := os.WriteFile(*plot, img.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		for name, b := range map[string][]byte{"bench.txt": table.Bytes(), "bench.json": js.Bytes(), "bench.png": img.Bytes()} {
			if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		_, err = stdout.Write(js.Bytes())
	} else {
		_, err = stdout.Write(table.Bytes())
	}
	return err
}
