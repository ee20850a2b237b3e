// Command glshare-window is the consumer side of `glshare demo --window`:
// the Vulkan consumer of internal/demo (the DXVK role), which opens the
// producer's texture by KMT handle and copies it into an image of its own
// every frame, and shows each frame in a GLFW window (X11; Xvfb works)
// with a frame counter above it.
//
// It is a program of its own so that glshare needs no X11 libraries; the
// demo starts it from the directory glshare is in. It writes, besides the
// consumer PNGs, window-last.png: the window's contents on the last frame.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/cmd/internal/demo"
)

// GLFW must be driven from the main thread.
func init() { runtime.LockOSThread() }

// counterHeight is the band above the picture holding the frame counter.
const counterHeight = 24

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "glshare-window: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var o demo.Options
	fs := flag.NewFlagSet("glshare-window", flag.ContinueOnError)
	fs.StringVar(&o.Socket, "socket", broker.DefaultSocketPath(), "broker socket")
	fs.IntVar(&o.Frames, "frames", 8, "frames to show")
	fs.StringVar(&o.Out, "out", ".", "directory for the PNGs")
	fs.DurationVar(&o.FrameInterval, "frame-interval", 0, "the producer's pause after each frame (glshare demo passes it on; the consumer follows the producer)")
	size := fs.String("size", "256x192", "texture size WxH (the producer's)")
	kmt := fs.String("kmt", "", "KMT handle of the shared texture")
	hold := fs.Duration("hold", 0, "keep the window open this long after the last frame")
	frameTime := fs.Duration("frame-time", 100*time.Millisecond, "at least this long per frame, so that people can see it")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if _, err := fmt.Sscanf(*size, "%dx%d", &o.Width, &o.Height); err != nil {
		return fmt.Errorf("--size %q: %w", *size, err)
	}
	h, err := strconv.ParseUint(*kmt, 0, 32)
	if err != nil {
		return fmt.Errorf("--kmt %q: %w", *kmt, err)
	}

	if err := glfw.Init(); err != nil {
		return fmt.Errorf("glfw.Init (is DISPLAY set? Xvfb works): %w", err)
	}
	defer glfw.Terminate()
	glfw.WindowHint(glfw.Resizable, glfw.False)
	win, err := glfw.CreateWindow(o.Width, o.Height+counterHeight, "glshare demo: the Vulkan consumer's view", nil, nil)
	if err != nil {
		return fmt.Errorf("glfw.CreateWindow: %w", err)
	}
	defer win.Destroy()
	win.MakeContextCurrent()
	if err := gl.InitWithProcAddrFunc(glfw.GetProcAddress); err != nil {
		return fmt.Errorf("loading GL: %s not found", err)
	}

	var last []byte
	show := func(px []byte, frame int) error {
		start := time.Now()
		if win.ShouldClose() {
			return fmt.Errorf("window closed at frame %d", frame)
		}
		fbw, fbh := win.GetFramebufferSize()
		gl.Viewport(0, 0, int32(fbw), int32(fbh))
		gl.Disable(gl.SCISSOR_TEST)
		gl.ClearColor(0.1, 0.1, 0.1, 1)
		gl.Clear(gl.COLOR_BUFFER_BIT)
		gl.PixelStorei(gl.UNPACK_ALIGNMENT, 1)
		gl.WindowPos2i(0, 0)
		gl.DrawPixels(int32(o.Width), int32(o.Height), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(px))
		drawNumber(frame, 6, o.Height+4, 16)
		if frame == o.Frames-1 {
			last = make([]byte, fbw*fbh*4)
			gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
			gl.ReadBuffer(gl.BACK)
			gl.ReadPixels(0, 0, int32(fbw), int32(fbh), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(last))
			if err := demo.WritePNG(filepath.Join(o.Out, "window-last.png"), last, fbw, fbh); err != nil {
				return err
			}
		}
		win.SwapBuffers()
		glfw.PollEvents()
		if e := gl.GetError(); e != gl.NO_ERROR {
			return fmt.Errorf("drawing frame %d: GL error %#x", frame, e)
		}
		time.Sleep(*frameTime - time.Since(start))
		return nil
	}
	dev, err := demo.Consumer(o, bridge.Handle(h), show)
	if err != nil {
		return err
	}
	fmt.Printf("Vulkan %s copied %d frames into its own image and showed them in a window\n", dev, o.Frames)
	for end := time.Now().Add(*hold); time.Now().Before(end) && !win.ShouldClose(); {
		glfw.WaitEventsTimeout(0.1)
	}
	return nil
}

// segments are the seven segments of a digit (a to g) as rectangles in a
// 3×5 grid: x, y, w, h with y counted from the bottom.
var segments = [7][4]int{
	{0, 4, 3, 1}, // a: top
	{2, 2, 1, 3}, // b: upper right
	{2, 0, 1, 3}, // c: lower right
	{0, 0, 3, 1}, // d: bottom
	{0, 0, 1, 3}, // e: lower left
	{0, 2, 1, 3}, // f: upper left
	{0, 2, 3, 1}, // g: middle
}

var digitSegments = [10]string{"abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"}

// drawNumber draws n in white seven-segment digits of the given height
// with scissored clears, which every legacy context has.
func drawNumber(n, x, y, height int) {
	unit := max(height/5, 1)
	gl.Enable(gl.SCISSOR_TEST)
	defer gl.Disable(gl.SCISSOR_TEST)
	gl.ClearColor(1, 1, 1, 1)
	for i, d := range strconv.Itoa(n) {
		dx := x + i*4*unit
		for _, s := range digitSegments[d-'0'] {
			r := segments[s-'a']
			gl.Scissor(int32(dx+r[0]*unit), int32(y+r[1]*unit), int32(r[2]*unit), int32(r[3]*unit))
			gl.Clear(gl.COLOR_BUFFER_BIT)
		}
	}
}
