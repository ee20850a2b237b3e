package interop_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

// The service tests run the broker's ALLOCATE end to end, across real
// processes: a GL-only process (one that never loads libvulkan, which it
// checks in /proc/self/maps once its work is done) has the broker allocate
// memory on the broker's helper device of GL's UUIDs and imports it into
// GL, and a Vulkan process opens the same resource by its KMT handle and
// imports it on its own device; one side writes every subresource and the
// other checks every texel. The resource lives in the broker, held by the
// allocating connection, until that connection frees it or dies.
//
// The children are driven by lines on their standard input:
//
//	writer: WRITE <case>            → DONE <case> wrote <kmt> <sync> <why>
//	                                  or DONE <case> skip <why>
//	        FREE <kmt>              → FREED <kmt>
//	reader: READ <case> <kmt> <sync> → RESULT <case> ok <summary>
//	                                  or RESULT <case> FAIL <what differs>
//	both:   EXIT (then the process exits, 0 when all went well)
//
// <sync> is "timeline" (the broker's timeline semaphore orders the
// accesses: the writer signals value 1 after its writes, the reader's
// GPU work waits for 1) or "none" (the writer finishes on the CPU before
// it prints the handle).

const (
	// childStart bounds a child's start, GL or Vulkan included, on a
	// loaded machine.
	childStart = 3 * time.Minute
	// childStep bounds one command of a child.
	childStep = 2 * time.Minute
)

// svcCase is one resource the service tests allocate, write on one side
// and check on the other.
type svcCase struct {
	name string
	desc bridge.Desc
}

func bufferDesc(size uint32) bridge.Desc {
	return bridge.Desc{Dimension: bridge.DimensionBuffer, Width: size, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}
}

// svcCases are the resources: odd and even 2D sizes, a cube with its six
// faces and all their levels, a 2D array and a 3D texture with full mip
// chains, and a buffer, all RGBA8.
func svcCases() []svcCase {
	rgba := bridge.FormatInfo{Format: bridge.FormatR8G8B8A8Unorm}
	return []svcCase{
		{"2d-1x1", desc2D(1, 1, bridge.FormatR8G8B8A8Unorm)},
		{"2d-67x33", desc2D(67, 33, bridge.FormatR8G8B8A8Unorm)},
		{"2d-256x256", desc2D(256, 256, bridge.FormatR8G8B8A8Unorm)},
		{"cube-16x16-mips", texDesc(bridge.DimensionTextureCube, 16, 16, 1, 0, 1)(rgba)},
		{"2d-array-32x32x3-mips", texDesc(bridge.DimensionTexture2D, 32, 32, 3, 0, 1)(rgba)},
		{"3d-16x16x8-mips", texDesc(bridge.DimensionTexture3D, 16, 16, 8, 0, 1)(rgba)},
		{"buffer-4096", bufferDesc(4096)},
	}
}

// svcCaseNamed returns the case called name and its index, which seeds
// its content.
func svcCaseNamed(name string) (int, svcCase, error) {
	for i, c := range svcCases() {
		if c.name == name {
			return i, c, nil
		}
	}
	return 0, svcCase{}, fmt.Errorf("no service case %q", name)
}

// svcTexelBytes is the size of an RGBA8 texel, the one layout every
// texture case has on both sides.
const svcTexelBytes = 4

// Which way the content goes; part of its seed, so that content written
// one way is never what the other way expects.
const (
	wayGLToVulkan = 1
	wayVulkanToGL = 2
)

// svcSubresourceBytes is the size of one subresource of level l of d
// (every slice of a 3D level), tightly packed, or a buffer's size.
func svcSubresourceBytes(d bridge.Desc, l uint32) uint64 {
	if d.Dimension == bridge.DimensionBuffer {
		return uint64(d.Width)
	}
	w, h, depth := max(d.Width>>l, 1), max(d.Height>>l, 1), uint32(1)
	if d.Dimension == bridge.DimensionTexture3D {
		depth = max(d.DepthOrArraySize>>l, 1)
	}
	return uint64(w) * uint64(h) * uint64(depth) * svcTexelBytes
}

// svcData is the content of subresource (level, layer) of case ci going
// way: random bytes of their own for every case, way, level, layer and
// cube face, and so for every slice of a 3D level too.
func svcData(ci int, way uint64, level, layer uint32, n uint64) []byte {
	return newRNG(0x5e41ce, way, uint64(ci), uint64(level), uint64(layer)).bytes(n)
}

// svcRendered says GL renders the case's content (the test pattern) rather
// than uploading it: single-level, single-layer 2D textures large enough
// to carry the pattern's frame number (which tells the cases apart), going
// GL → Vulkan. GL's rendering converts float colours to UNORM, hence ±1.
// Smaller ones are uploaded exactly.
func svcRendered(d bridge.Desc) bool {
	return d.Dimension == bridge.DimensionTexture2D && d.MipLevels == 1 && d.DepthOrArraySize == 1 &&
		d.Width >= testpattern.FrameBits && d.Height >= 16
}

// svcFrame is the test-pattern frame GL renders for case ci.
func svcFrame(ci int) int { return 1 + 37*ci }

// svcSubresources lists the (level, layer) pairs Vulkan copies of d.
func svcSubresources(d bridge.Desc) [][2]uint32 {
	var out [][2]uint32
	g := geometryOf(d)
	for l := range d.MipLevels {
		for layer := range g.layers {
			out = append(out, [2]uint32{l, layer})
		}
	}
	return out
}

// nearDiff compares got with want allowing ±1 per byte, and describes the
// first difference.
func nearDiff(got, want []byte, texelBytes int) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if !near(got[i], want[i]) {
			t := i / texelBytes
			lo, hi := t*texelBytes, min((t+1)*texelBytes, len(got))
			return fmt.Sprintf("texel %d (byte %d) is % x, want % x ±1", t, i, got[lo:hi], want[lo:hi])
		}
	}
	return ""
}

// --- what the children share ---

func formatDeviceID(id bridge.DeviceID) string {
	return id.Driver.String() + ":" + id.Device.String()
}

func parseDeviceID(s string) (bridge.DeviceID, error) {
	var id bridge.DeviceID
	drv, dev, ok := strings.Cut(s, ":")
	if !ok {
		return id, fmt.Errorf("device %q is not DRIVER:DEVICE", s)
	}
	for _, p := range []struct {
		hex string
		out *bridge.UUID
	}{{drv, &id.Driver}, {dev, &id.Device}} {
		b, err := hex.DecodeString(p.hex)
		if err != nil || len(b) != len(p.out) {
			return id, fmt.Errorf("device %q: %q is not a UUID", s, p.hex)
		}
		copy(p.out[:], b)
	}
	return id, nil
}

// oneLine keeps an error on the one line the protocol gives it.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " | ") }

// serveCommands answers the commands read from in with handle until EXIT
// or the end of the input.
func serveCommands(in *bufio.Scanner, handle func(cmd string, args []string) error) error {
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "EXIT" {
			return nil
		}
		if err := handle(f[0], f[1:]); err != nil {
			return err
		}
	}
	return in.Err()
}

// args checks that a command has n arguments.
func needArgs(cmd string, args []string, n int) error {
	if len(args) != n {
		return fmt.Errorf("%s takes %d arguments, got %q", cmd, n, args)
	}
	return nil
}

func parseKMT(s string) (bridge.Handle, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	return bridge.Handle(v), err
}

// checkNoVulkan fails a GL-only process that has loaded the Vulkan loader:
// it must work with none.
func checkNoVulkan() error {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for l := range strings.Lines(string(maps)) {
		if strings.Contains(l, "libvulkan") {
			return fmt.Errorf("this GL-only process loaded libvulkan: %s", strings.TrimSpace(l))
		}
	}
	return nil
}

// closeResourceFDs closes the fds of r still open (those not handed to an
// import that took them, which sets them to -1).
func closeResourceFDs(r *broker.Resource) {
	if r.FD >= 0 {
		unix.Close(r.FD)
		r.FD = -1
	}
	for i := range r.Syncs {
		if r.Syncs[i].FD >= 0 {
			unix.Close(r.Syncs[i].FD)
			r.Syncs[i].FD = -1
		}
	}
}

// syncName is what a writer says about the semaphores a resource came
// with: "timeline" for the one timeline semaphore the tests ask for,
// "none" without.
func syncName(r broker.Resource) (string, error) {
	switch {
	case len(r.Syncs) == 0:
		return "none", nil
	case len(r.Syncs) == 1 && r.Syncs[0].Timeline:
		return "timeline", nil
	}
	return "", fmt.Errorf("the resource came with semaphores %+v, want one timeline semaphore or none", r.Syncs)
}

// checkOpened checks what an open of a service-allocated resource says
// against the case, the device and the sync the writer reported.
func checkOpened(r broker.Resource, c svcCase, dev bridge.DeviceID, sync string) error {
	switch got, err := syncName(r); {
	case err != nil:
		return err
	case got != sync:
		return fmt.Errorf("the open came with sync %q; the writer had %q", got, sync)
	case !r.ServiceAllocated:
		return errors.New("the open says the broker did not allocate the resource")
	case r.Allocation.Desc != c.desc:
		return fmt.Errorf("the record describes %s, want %s", r.Allocation.Desc, c.desc)
	case r.Allocation.HostMemory:
		return errors.New("the record says host memory; the writer asked for its device's")
	case r.Allocation.Device != dev:
		return fmt.Errorf("the record names device %s, want GL's %s", r.Allocation.Device, dev)
	}
	return nil
}

// allocate has the broker allocate req, with one timeline semaphore if
// timeline (the writer and the reader can both use one), falling back to
// none where the broker refuses it with ErrNoExternalSemaphore. why says
// why there is none.
func allocate(c *broker.Client, req broker.AllocateRequest, timeline bool, whyNot string) (res broker.Resource, sync, why string, err error) {
	if !timeline {
		res, err = c.Allocate(req)
		return res, "none", whyNot, err
	}
	req.Sync = broker.TimelineSync
	res, err = c.Allocate(req)
	if errors.Is(err, bridge.ErrNoExternalSemaphore) {
		req.Sync = broker.NoSync
		why = fmt.Sprintf("(the broker refused a timeline semaphore: %s)", oneLine(err))
		res, err = c.Allocate(req)
		return res, "none", why, err
	}
	return res, "timeline", "", err
}

// allocateSkip says why an Allocate error means this machine cannot run
// the case, or "" for an error that fails the test.
func allocateSkip(err error) string {
	switch {
	case errors.Is(err, bridge.ErrUnsupportedFormat):
		return "the broker's device cannot export it: " + oneLine(err)
	case errors.Is(err, bridge.ErrNoVulkan):
		return "the broker has no Vulkan device of GL's UUIDs: " + oneLine(err)
	}
	return ""
}

// glTimeline says whether GL can wait for and signal a timeline semaphore
// fd, and if not, why the tests go without.
func glTimeline(id glimport.Identity) (bool, string) {
	if id.SemaphoreFD && id.TimelineSemaphore {
		return true, ""
	}
	return false, "(GL lacks GL_EXT_semaphore_fd or GL_NV_timeline_semaphore)"
}

// --- GL-only children ---

// glSide is what a GL-only child works with: a client of the broker at
// GLB_SOCK and a headless GL context.
type glSide struct {
	c   *broker.Client
	ctx *headless.Context
	id  glimport.Identity
}

// startGLSide dials the broker, makes the GL context and prints GL's
// identity: IDENT DRIVER:DEVICE memfd=0|1 semfd=0|1 timeline=0|1
// RENDERER, or IDENT skip WHY where no headless GL exists (then side is
// nil).
func startGLSide() (*glSide, error) {
	c, err := broker.Dial(os.Getenv("GLB_SOCK"))
	if err != nil {
		return nil, err
	}
	ctx, err := headless.New(headless.Options{})
	if errors.Is(err, bridge.ErrPlatformUnavailable) {
		c.Close()
		fmt.Printf("IDENT skip no headless EGL platform: %s\n", oneLine(err))
		return nil, nil
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	g := &glSide{c: c, ctx: ctx}
	ctx.Call(func() {
		if err = glimport.Init(ctx.ProcAddr); err == nil {
			g.id, err = glimport.QueryIdentity()
		}
	})
	if err != nil {
		g.close()
		return nil, err
	}
	b := map[bool]int{true: 1}
	fmt.Printf("IDENT %s memfd=%d semfd=%d timeline=%d %s\n", formatDeviceID(g.id.Device), b[g.id.MemoryObjectFD], b[g.id.SemaphoreFD], b[g.id.TimelineSemaphore], g.id.Renderer)
	return g, nil
}

func (g *glSide) close() {
	g.ctx.Close()
	g.c.Close()
}

// glObjects are the GL objects over one resource.
type glObjects struct {
	mem *glimport.Memory
	tex *glimport.Texture
	buf *glimport.Buffer
	sem *glimport.Semaphore
}

// importGL imports r's memory, and its timeline semaphore when sync says
// so, on the current context: a texture or a buffer over the memory as
// the record describes. The fds stay r's (glimport imports dups). On
// failure what was made is closed.
func importGL(r broker.Resource, sync string) (o glObjects, err error) {
	defer func() {
		if err != nil {
			o.close()
			o = glObjects{}
		}
	}()
	if o.mem, err = glimport.ImportMemory(r.Allocation, r.FD); err != nil {
		return o, err
	}
	if r.Allocation.Desc.Dimension == bridge.DimensionBuffer {
		o.buf, err = o.mem.Buffer(r.Allocation)
	} else {
		o.tex, err = o.mem.Texture(r.Allocation)
	}
	if err != nil {
		return o, err
	}
	if sync == "timeline" {
		o.sem, err = glimport.ImportSemaphore(r.Syncs[0].FD, true)
	}
	return o, err
}

// barriers are the objects a semaphore wait or signal names: the other
// API writes or reads them, and they rest in GENERAL.
func (o glObjects) barriers() (bufs []uint32, texs []glimport.TextureLayout) {
	if o.buf != nil {
		bufs = []uint32{o.buf.Name()}
	}
	if o.tex != nil {
		texs = []glimport.TextureLayout{{Texture: o.tex, Layout: glimport.LayoutGeneral}}
	}
	return bufs, texs
}

// close closes the objects, on the context's thread.
func (o glObjects) close() {
	if o.sem != nil {
		o.sem.Close()
	}
	if o.tex != nil {
		o.tex.Close()
	}
	if o.buf != nil {
		o.buf.Close()
	}
	if o.mem != nil {
		o.mem.Close()
	}
}

// glWrite writes case ci's GL → Vulkan content into o: the test pattern
// rendered into single-level 2D textures, exact uploads of every level and
// face elsewhere, bytes copied into a buffer.
func glWrite(ci int, c svcCase, o glObjects) error {
	d := c.desc
	if o.buf != nil {
		return glutil.CopyIntoBuffer(o.buf.Name(), 0, svcData(ci, wayGLToVulkan, 0, 0, uint64(d.Width)))
	}
	if svcRendered(d) {
		return testpattern.Draw(o.tex.Name(), o.tex.Target(), int(d.Width), int(d.Height), svcFrame(ci))
	}
	st := o.tex.Storage()
	if st.GLClientBytesPerBlock != svcTexelBytes {
		return fmt.Errorf("GL's client texel of %s is %d bytes, not %d", d.Format, st.GLClientBytesPerBlock, svcTexelBytes)
	}
	for _, im := range glImages(d, o.tex.Target()) {
		var data []byte
		for _, layer := range im.layers {
			data = append(data, svcData(ci, wayGLToVulkan, uint32(im.level), layer, svcSubresourceBytes(d, uint32(im.level)))...)
		}
		if err := glutil.TexSubImage(o.tex.Name(), o.tex.Target(), im.level, im.face, st.GLFormat, st.GLType, svcTexelBytes, data); err != nil {
			return fmt.Errorf("writing level %d face %d: %w", im.level, im.face, err)
		}
	}
	return nil
}

// glCheck reads every level and face (or the buffer's bytes) of o in GL
// and compares them exactly with case ci's Vulkan → GL content. It
// returns a summary, or what differs.
func glCheck(ci int, c svcCase, o glObjects) (string, error) {
	d := c.desc
	if o.buf != nil {
		got, err := glutil.ReadBuffer(o.buf.Name(), 0, int(d.Width))
		if err != nil {
			return "", err
		}
		if diff := masked(got, svcData(ci, wayVulkanToGL, 0, 0, uint64(d.Width)), nil, 1); diff != "" {
			return "", fmt.Errorf("buffer: %s", diff)
		}
		return fmt.Sprintf("GL read all %d bytes exactly", len(got)), nil
	}
	st := o.tex.Storage()
	n, bytes := 0, 0
	for _, im := range glImages(d, o.tex.Target()) {
		var want []byte
		for _, layer := range im.layers {
			want = append(want, svcData(ci, wayVulkanToGL, uint32(im.level), layer, svcSubresourceBytes(d, uint32(im.level)))...)
		}
		got, err := glutil.GetTexImage(o.tex.Name(), o.tex.Target(), im.level, im.face, st.GLFormat, st.GLType, int(st.GLClientBytesPerBlock))
		if err != nil {
			return "", fmt.Errorf("reading level %d face %d: %w", im.level, im.face, err)
		}
		if diff := masked(got, want, nil, svcTexelBytes); diff != "" {
			return "", fmt.Errorf("level %d face %d (Vulkan layers %v): %s", im.level, im.face, im.layers, diff)
		}
		n += len(im.layers)
		bytes += len(got)
	}
	return fmt.Sprintf("GL read %d subresources (%d bytes) exactly", n, bytes), nil
}

// svcGLWriter is the GL side of TestServiceAllocatedGLToVulkan: for each
// WRITE it has the broker allocate the case on GL's device, imports the
// memory, writes the content and prints the KMT handle; it holds the
// resource until FREE.
func svcGLWriter(in *bufio.Scanner) error {
	g, err := startGLSide()
	if err != nil || g == nil {
		return err
	}
	defer g.close()
	timeline, whyNot := glTimeline(g.id)
	held := map[bridge.Handle]glObjects{}
	release := func(kmt bridge.Handle) error {
		g.ctx.Call(func() { held[kmt].close() })
		delete(held, kmt)
		return g.c.CloseHandle(kmt)
	}
	err = serveCommands(in, func(cmd string, args []string) error {
		switch cmd {
		case "WRITE":
			if err := needArgs(cmd, args, 1); err != nil {
				return err
			}
			ci, c, err := svcCaseNamed(args[0])
			if err != nil {
				return err
			}
			r, sync, why, err := allocate(g.c, broker.AllocateRequest{Desc: c.desc, Device: g.id.Device, Data: []byte(c.name)}, timeline, whyNot)
			if skip := allocateSkip(err); skip != "" {
				fmt.Printf("DONE %s skip %s\n", c.name, skip)
				return nil
			}
			if err != nil {
				return err
			}
			defer closeResourceFDs(&r)
			if got, err := syncName(r); err != nil || got != sync {
				return fmt.Errorf("allocate with sync %s: %v (got %q)", sync, err, got)
			}
			var o glObjects
			g.ctx.Call(func() {
				if o, err = importGL(r, sync); err != nil {
					return
				}
				if err = glWrite(ci, c, o); err != nil {
					return
				}
				if o.sem != nil {
					bufs, texs := o.barriers()
					err = o.sem.Signal(1, bufs, texs)
				} else {
					// No semaphore: GL finishes before the reader reads.
					gl.Finish()
				}
			})
			held[r.Handle] = o
			if err != nil {
				return errors.Join(fmt.Errorf("%s: %w", c.name, err), release(r.Handle))
			}
			fmt.Printf("DONE %s wrote %d %s %s\n", c.name, uint32(r.Handle), sync, why)
		case "FREE":
			return free(cmd, args, held, release)
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
		return nil
	})
	for kmt := range held {
		err = errors.Join(err, release(kmt))
	}
	if err != nil {
		return err
	}
	return checkNoVulkan()
}

// svcGLReader is the GL side of TestServiceAllocatedVulkanToGL: for each
// READ it opens the resource by its KMT handle, imports it into GL (with
// the timeline semaphore, waiting for 1), checks every texel and frees
// its reference.
func svcGLReader(in *bufio.Scanner) error {
	g, err := startGLSide()
	if err != nil || g == nil {
		return err
	}
	defer g.close()
	err = serveCommands(in, func(cmd string, args []string) error {
		if cmd != "READ" {
			return fmt.Errorf("unknown command %q", cmd)
		}
		if err := needArgs(cmd, args, 3); err != nil {
			return err
		}
		ci, c, err := svcCaseNamed(args[0])
		if err != nil {
			return err
		}
		kmt, err := parseKMT(args[1])
		if err != nil {
			return err
		}
		summary, err := g.read(ci, c, kmt, args[2])
		if err != nil {
			fmt.Printf("RESULT %s FAIL %s\n", c.name, oneLine(err))
			return nil
		}
		fmt.Printf("RESULT %s ok %s\n", c.name, summary)
		return nil
	})
	if err != nil {
		return err
	}
	return checkNoVulkan()
}

func (g *glSide) read(ci int, c svcCase, kmt bridge.Handle, sync string) (summary string, err error) {
	r, err := g.c.OpenKMT(kmt)
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, g.c.CloseHandle(r.Handle)) }()
	defer closeResourceFDs(&r)
	if err := checkOpened(r, c, g.id.Device, sync); err != nil {
		return "", err
	}
	g.ctx.Call(func() {
		var o glObjects
		if o, err = importGL(r, sync); err != nil {
			return
		}
		defer o.close()
		if o.sem != nil {
			bufs, texs := o.barriers()
			if err = o.sem.Wait(1, bufs, texs); err != nil {
				return
			}
		}
		summary, err = glCheck(ci, c, o)
	})
	return summary, err
}

// --- Vulkan children ---

// vulkanDevices opens a helper device per DeviceID, on first use.
type vulkanDevices map[bridge.DeviceID]*helperdev.Device

func (v vulkanDevices) open(id bridge.DeviceID, peer string) (*helperdev.Device, error) {
	if d := v[id]; d != nil {
		return d, nil
	}
	d, err := helperdev.Open(helperdev.Config{Device: id, Peer: peer})
	if err != nil {
		return nil, err
	}
	v[id] = d
	return d, nil
}

func (v vulkanDevices) close() {
	for _, d := range v {
		d.Close()
	}
}

// vulkanObjects are the Vulkan objects over one resource.
type vulkanObjects struct {
	img *vkalloc.Image
	buf *vkalloc.Buffer
	sem *vkalloc.Semaphore
}

// importVulkan imports r's memory, and its timeline semaphore when sync
// says so, on dev. The imports take the fds they import, which are set to
// -1 in r. On failure what was made is closed.
func importVulkan(dev *helperdev.Device, r *broker.Resource, sync string) (o vulkanObjects, err error) {
	defer func() {
		if err != nil {
			o.close()
			o = vulkanObjects{}
		}
	}()
	if r.Allocation.Desc.Dimension == bridge.DimensionBuffer {
		o.buf, err = vkalloc.ImportBuffer(dev, r.Allocation, r.FD)
	} else {
		o.img, err = vkalloc.ImportImage(dev, r.Allocation, r.FD)
	}
	if err != nil {
		return o, err
	}
	r.FD = -1
	if sync == "timeline" {
		if o.sem, err = vkalloc.ImportSemaphore(dev, r.Syncs[0].FD, true); err != nil {
			return o, err
		}
		r.Syncs[0].FD = -1
	}
	return o, nil
}

func (o vulkanObjects) close() {
	if o.img != nil {
		o.img.Close()
	}
	if o.buf != nil {
		o.buf.Close()
	}
	if o.sem != nil {
		o.sem.Close()
	}
}

// vulkanWrite writes case ci's Vulkan → GL content into every subresource
// of o (or the buffer); with a semaphore the last write signals value 1.
func vulkanWrite(ci int, c svcCase, o vulkanObjects) error {
	d := c.desc
	var last vkalloc.Sync
	if o.sem != nil {
		last.Signal = []vkalloc.SemaphoreValue{{Semaphore: o.sem, Value: 1}}
	}
	if o.buf != nil {
		return o.buf.WriteBytes(0, svcData(ci, wayVulkanToGL, 0, 0, uint64(d.Width)), last)
	}
	subs := svcSubresources(d)
	for i, s := range subs {
		sub := bridge.Subresource{Level: s[0], Layer: s[1]}
		if n, err := o.img.SubresourceSize(sub); err != nil || n != svcSubresourceBytes(d, s[0]) {
			return fmt.Errorf("level %d layer %d: vkalloc says %d bytes (%v), the test %d", s[0], s[1], n, err, svcSubresourceBytes(d, s[0]))
		}
		sync := vkalloc.Sync{}
		if i == len(subs)-1 {
			sync = last
		}
		if err := o.img.WritePixels(sub, svcData(ci, wayVulkanToGL, s[0], s[1], svcSubresourceBytes(d, s[0])), sync); err != nil {
			return fmt.Errorf("writing level %d layer %d: %w", s[0], s[1], err)
		}
	}
	return nil
}

// vulkanCheck reads every subresource of o (or the buffer's bytes) on the
// Vulkan device, waiting for value 1 of the semaphore if there is one,
// and compares them with case ci's GL → Vulkan content: exactly, but ±1
// for the test pattern GL rendered.
func vulkanCheck(ci int, c svcCase, o vulkanObjects) (string, error) {
	d := c.desc
	var wait vkalloc.Sync
	if o.sem != nil {
		wait.Wait = []vkalloc.SemaphoreValue{{Semaphore: o.sem, Value: 1}}
	}
	if o.buf != nil {
		got, err := o.buf.ReadBytes(0, uint64(d.Width), wait)
		if err != nil {
			return "", err
		}
		if diff := masked(got, svcData(ci, wayGLToVulkan, 0, 0, uint64(d.Width)), nil, 1); diff != "" {
			return "", fmt.Errorf("buffer: %s", diff)
		}
		return fmt.Sprintf("Vulkan read all %d bytes exactly", len(got)), nil
	}
	if svcRendered(d) {
		got, err := o.img.ReadPixels(bridge.Subresource{}, wait)
		if err != nil {
			return "", err
		}
		w, h := int(d.Width), int(d.Height)
		if diff := nearDiff(got, testpattern.Expected(w, h, svcFrame(ci)), svcTexelBytes); diff != "" {
			return "", fmt.Errorf("test pattern frame %d at %dx%d: %s", svcFrame(ci), w, h, diff)
		}
		return fmt.Sprintf("Vulkan read all %d texels of the rendered test pattern (frame %d, ±1)", w*h, svcFrame(ci)), nil
	}
	n, bytes := 0, 0
	for _, s := range svcSubresources(d) {
		got, err := o.img.ReadPixels(bridge.Subresource{Level: s[0], Layer: s[1]}, wait)
		if err != nil {
			return "", fmt.Errorf("reading level %d layer %d: %w", s[0], s[1], err)
		}
		if diff := masked(got, svcData(ci, wayGLToVulkan, s[0], s[1], svcSubresourceBytes(d, s[0])), nil, svcTexelBytes); diff != "" {
			return "", fmt.Errorf("level %d layer %d: %s", s[0], s[1], diff)
		}
		n++
		bytes += len(got)
	}
	return fmt.Sprintf("Vulkan read %d subresources (%d bytes) exactly", n, bytes), nil
}

// svcVulkanReader is the Vulkan side of TestServiceAllocatedGLToVulkan:
// for each READ it opens the resource by its KMT handle, imports it on a
// helper device of the record's UUIDs (which must be GL's, GLB_DEVICE),
// checks every texel and frees its reference.
func svcVulkanReader(in *bufio.Scanner) error {
	want, err := parseDeviceID(os.Getenv("GLB_DEVICE"))
	if err != nil {
		return err
	}
	c, err := broker.Dial(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	defer c.Close()
	devs := vulkanDevices{}
	defer devs.close()
	fmt.Println("READY")
	return serveCommands(in, func(cmd string, args []string) error {
		if cmd != "READ" {
			return fmt.Errorf("unknown command %q", cmd)
		}
		if err := needArgs(cmd, args, 3); err != nil {
			return err
		}
		ci, sc, err := svcCaseNamed(args[0])
		if err != nil {
			return err
		}
		kmt, err := parseKMT(args[1])
		if err != nil {
			return err
		}
		summary, err := vulkanRead(c, devs, want, ci, sc, kmt, args[2])
		if err != nil {
			fmt.Printf("RESULT %s FAIL %s\n", sc.name, oneLine(err))
			return nil
		}
		fmt.Printf("RESULT %s ok %s\n", sc.name, summary)
		return nil
	})
}

func vulkanRead(c *broker.Client, devs vulkanDevices, want bridge.DeviceID, ci int, sc svcCase, kmt bridge.Handle, sync string) (summary string, err error) {
	r, err := c.OpenKMT(kmt)
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, c.CloseHandle(r.Handle)) }()
	defer closeResourceFDs(&r)
	if err := checkOpened(r, sc, want, sync); err != nil {
		return "", err
	}
	dev, err := devs.open(r.Allocation.Device, "the GL writer")
	if err != nil {
		return "", err
	}
	o, err := importVulkan(dev, &r, sync)
	if err != nil {
		return "", err
	}
	defer o.close()
	return vulkanCheck(ci, sc, o)
}

// svcVulkanWriter is the Vulkan side of TestServiceAllocatedVulkanToGL:
// on a helper device of GL's UUIDs (GLB_DEVICE), for each WRITE it has the
// broker allocate the case on those UUIDs, with a timeline semaphore where
// GL can wait for one (GLB_GL_TIMELINE=1), imports the memory, writes
// every subresource and prints the KMT handle; it holds the resource
// until FREE. It prints READY, or READY skip WHY where no device of those
// UUIDs can be opened.
func svcVulkanWriter(in *bufio.Scanner) error {
	id, err := parseDeviceID(os.Getenv("GLB_DEVICE"))
	if err != nil {
		return err
	}
	timeline, whyNot := os.Getenv("GLB_GL_TIMELINE") == "1", os.Getenv("GLB_GL_WHY")
	c, err := broker.Dial(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	defer c.Close()
	dev, err := helperdev.Open(helperdev.Config{Device: id, Peer: "the GL reader"})
	if errors.Is(err, bridge.ErrNoVulkan) || errors.Is(err, bridge.ErrUUIDMismatch) {
		fmt.Printf("READY skip no Vulkan device of GL's UUIDs: %s\n", oneLine(err))
		for in.Scan() {
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer dev.Close()
	fmt.Printf("READY %s\n", dev.Caps().DeviceName)
	held := map[bridge.Handle]vulkanObjects{}
	release := func(kmt bridge.Handle) error {
		held[kmt].close()
		delete(held, kmt)
		return c.CloseHandle(kmt)
	}
	err = serveCommands(in, func(cmd string, args []string) error {
		switch cmd {
		case "WRITE":
			if err := needArgs(cmd, args, 1); err != nil {
				return err
			}
			ci, sc, err := svcCaseNamed(args[0])
			if err != nil {
				return err
			}
			r, sync, why, err := allocate(c, broker.AllocateRequest{Desc: sc.desc, Device: id, Data: []byte(sc.name)}, timeline, whyNot)
			if skip := allocateSkip(err); skip != "" {
				fmt.Printf("DONE %s skip %s\n", sc.name, skip)
				return nil
			}
			if err != nil {
				return err
			}
			defer closeResourceFDs(&r)
			if got, err := syncName(r); err != nil || got != sync {
				return fmt.Errorf("allocate with sync %s: %v (got %q)", sync, err, got)
			}
			if r.Allocation.Device != id {
				return fmt.Errorf("allocated on %s, asked for %s", r.Allocation.Device, id)
			}
			o, err := importVulkan(dev, &r, sync)
			held[r.Handle] = o
			if err == nil {
				err = vulkanWrite(ci, sc, o)
			}
			if err != nil {
				return errors.Join(fmt.Errorf("%s: %w", sc.name, err), release(r.Handle))
			}
			fmt.Printf("DONE %s wrote %d %s %s\n", sc.name, uint32(r.Handle), sync, why)
		case "FREE":
			return free(cmd, args, held, release)
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
		return nil
	})
	for kmt := range held {
		err = errors.Join(err, release(kmt))
	}
	return err
}

// --- the parent ---

// glIdent is what a GL child's IDENT line says.
type glIdent struct {
	dev                    bridge.DeviceID
	memfd, semfd, timeline bool
	renderer               string
}

// expectIdent waits for a GL child's IDENT line and skips the test where
// the machine has no headless GL or no GL that imports memory.
func expectIdent(t *testing.T, c *testenv.Child) glIdent {
	t.Helper()
	line := c.Expect(t, "IDENT", childStart)
	if why, ok := strings.CutPrefix(line, "skip "); ok {
		t.Skip(why)
	}
	f := strings.SplitN(line, " ", 5)
	if len(f) < 4 {
		t.Fatalf("IDENT %q", line)
	}
	var id glIdent
	var err error
	if id.dev, err = parseDeviceID(f[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		field string
		out   *bool
	}{{"memfd=", &id.memfd}, {"semfd=", &id.semfd}, {"timeline=", &id.timeline}} {
		for _, x := range f[1:4] {
			if v, ok := strings.CutPrefix(x, p.field); ok {
				*p.out = v == "1"
			}
		}
	}
	if len(f) == 5 {
		id.renderer = f[4]
	}
	if !id.memfd {
		t.Skipf("GL %q lacks GL_EXT_memory_object_fd: it cannot import the broker's device memory", id.renderer)
	}
	t.Logf("GL %q, UUIDs %s, GL_EXT_semaphore_fd %v, GL_NV_timeline_semaphore %v", id.renderer, id.dev, id.semfd, id.timeline)
	return id
}

// runServiceCases drives every case through the writer and the reader
// children, one subtest each: the writer allocates and writes, the reader
// opens the KMT handle, checks and closes its handle, the writer frees,
// and then the broker (listed through lister) must hold the resource no more.
func runServiceCases(t *testing.T, way string, lister *broker.Client, writer, reader *testenv.Child) {
	for _, c := range svcCases() {
		t.Run(c.name, func(t *testing.T) {
			writer.Send(t, "WRITE "+c.name)
			done := writer.Expect(t, "DONE "+c.name+" ", childStep)
			if why, ok := strings.CutPrefix(done, "skip "); ok {
				t.Skipf("%s: %s", c.desc, why)
			}
			f := strings.SplitN(done, " ", 4)
			if len(f) < 3 || f[0] != "wrote" {
				t.Fatalf("writer said %q", done)
			}
			kmt, sync, why := f[1], f[2], ""
			if len(f) == 4 {
				why = " " + f[3]
			}
			reader.Send(t, fmt.Sprintf("READ %s %s %s", c.name, kmt, sync))
			result := reader.Expect(t, "RESULT "+c.name+" ", childStep)
			writer.Send(t, "FREE "+kmt)
			writer.Expect(t, "FREED "+kmt, childStep)
			// Both replied after their CloseHandle: the last reference
			// is gone, and with it the resource.
			l, err := lister.List()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range l {
				if fmt.Sprint(uint32(r.KMT)) == kmt {
					t.Errorf("the writer freed KMT %s and the reader closed its handle, but the broker still lists it (%d references)", kmt, r.Refs)
				}
			}
			if summary, ok := strings.CutPrefix(result, "ok "); ok {
				t.Logf("%s %s (KMT %s): sync %s%s; %s", way, c.desc, kmt, sync, why, summary)
				return
			}
			t.Errorf("%s %s (KMT %s, sync %s): the reader found %s", way, c.desc, kmt, sync, result)
		})
	}
}

// dialLister connects the test to the broker at sock, to list what it
// holds; the connection is closed when the test ends.
func dialLister(t *testing.T, sock string) *broker.Client {
	t.Helper()
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// finish ends the children and checks they exit cleanly: a GL child
// checks then that it never loaded libvulkan.
func finish(t *testing.T, children ...*testenv.Child) {
	t.Helper()
	if t.Failed() {
		return // the cleanup kills them
	}
	for _, c := range children {
		c.Send(t, "EXIT")
	}
	for _, c := range children {
		c.Wait(t, childStep)
	}
}

// TestServiceAllocatedGLToVulkan: a GL-only process has the broker
// allocate each case on GL's device, writes it in GL and hands its KMT
// handle to a Vulkan process, which imports it on a device of the
// record's UUIDs and checks every texel of every subresource.
func TestServiceAllocatedGLToVulkan(t *testing.T) {
	sock := testbroker.Start(t)
	lister := dialLister(t, sock)
	writer := testenv.StartChild(t, "svc-gl-writer", "GLB_SOCK="+sock)
	id := expectIdent(t, writer)
	reader := testenv.StartChild(t, "svc-vk-reader", "GLB_SOCK="+sock, "GLB_DEVICE="+formatDeviceID(id.dev))
	reader.Expect(t, "READY", childStart)
	runServiceCases(t, "GL → Vulkan", lister, writer, reader)
	finish(t, writer, reader)
}

// TestServiceAllocatedVulkanToGL: a Vulkan process has the broker allocate
// each case on GL's UUIDs, writes every subresource on its own device and
// hands the KMT handle to a GL-only process, which imports it and checks
// every texel.
func TestServiceAllocatedVulkanToGL(t *testing.T) {
	sock := testbroker.Start(t)
	lister := dialLister(t, sock)
	reader := testenv.StartChild(t, "svc-gl-reader", "GLB_SOCK="+sock)
	id := expectIdent(t, reader)
	timeline, why := "0", "(GL lacks GL_EXT_semaphore_fd or GL_NV_timeline_semaphore)"
	if id.semfd && id.timeline {
		timeline, why = "1", ""
	}
	writer := testenv.StartChild(t, "svc-vk-writer", "GLB_SOCK="+sock, "GLB_DEVICE="+formatDeviceID(id.dev), "GLB_GL_TIMELINE="+timeline, "GLB_GL_WHY="+why)
	if skip, ok := strings.CutPrefix(writer.Expect(t, "READY", childStart), "skip "); ok {
		t.Skip(skip)
	}
	runServiceCases(t, "Vulkan → GL", lister, writer, reader)
	finish(t, writer, reader)
}

// --- the allocator's death ---

// svcBroker serves a broker on the socket path GLB_SOCK until killed, and
// prints READY once it listens.
func svcBroker(*bufio.Scanner) error {
	l, err := broker.Listen(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	b := &broker.Broker{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	fmt.Println("READY")
	return b.Serve(context.Background(), l)
}

// holding is one resource TestServiceAllocatorDeath has allocated.
type holding struct {
	name string
	req  broker.AllocateRequest
	// timeline asks for a timeline semaphore where GL can use one.
	timeline bool
}

// holdings are what the allocator holds when it is killed: textures and a
// buffer on the broker's device of GL's UUIDs where GL imports memory
// (one with a timeline semaphore where GL can use one), and host memory.
func holdings(id glimport.Identity) []holding {
	var hs []holding
	if id.MemoryObjectFD {
		hs = append(hs,
			holding{"2D 64x64 on the device", broker.AllocateRequest{Desc: desc2D(64, 64, bridge.FormatR8G8B8A8Unorm), Device: id.Device}, true},
			holding{"cube 16x16 on the device", broker.AllocateRequest{Desc: texDesc(bridge.DimensionTextureCube, 16, 16, 1, 0, 1)(bridge.FormatInfo{Format: bridge.FormatR8G8B8A8Unorm}), Device: id.Device}, false},
			holding{"4096-byte buffer on the device", broker.AllocateRequest{Desc: bufferDesc(4096), Device: id.Device}, false},
		)
	}
	return append(hs,
		holding{"2D 32x32 in host memory", broker.AllocateRequest{Desc: desc2D(32, 32, bridge.FormatR8G8B8A8Unorm), HostMemory: true}, false},
		holding{"2D 256x256 in host memory", broker.AllocateRequest{Desc: desc2D(256, 256, bridge.FormatR8G8B8A8Unorm), HostMemory: true}, false},
	)
}

// allocateHoldings allocates holdings(id) through c; the caller owns the
// resources, fds included. Device memory the broker cannot allocate here
// is left out, and said so in notes.
func allocateHoldings(c *broker.Client, id glimport.Identity) (rs []broker.Resource, names []string, notes []string, err error) {
	timeline, whyNot := glTimeline(id)
	for _, h := range holdings(id) {
		r, sync, why, err := allocate(c, h.req, h.timeline && timeline, whyNot)
		if skip := allocateSkip(err); skip != "" && !h.req.HostMemory {
			notes = append(notes, h.name+": "+skip)
			continue
		}
		if err != nil {
			return rs, names, notes, fmt.Errorf("%s: %w", h.name, err)
		}
		rs = append(rs, r)
		if h.timeline {
			names = append(names, fmt.Sprintf("%s (sync %s%s)", h.name, sync, strings.TrimRight(" "+why, " ")))
		} else {
			names = append(names, h.name)
		}
	}
	return rs, names, notes, nil
}

// svcAllocator is the GL-only process TestServiceAllocatorDeath kills: it
// allocates holdings(GL's identity), renders into the first texture
// through GL, checks it loaded no libvulkan, prints HELD with the count
// and waits to be killed.
func svcAllocator(in *bufio.Scanner) error {
	g, err := startGLSide()
	if err != nil || g == nil {
		return err
	}
	defer g.close()
	rs, names, notes, err := allocateHoldings(g.c, g.id)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Allocation.HostMemory || r.Allocation.Desc.Dimension != bridge.DimensionTexture2D {
			continue
		}
		sync, err := syncName(r)
		if err != nil {
			return err
		}
		g.ctx.Call(func() {
			var o glObjects
			if o, err = importGL(r, sync); err != nil {
				return
			}
			// Held, in use, when the process dies.
			if err = testpattern.Draw(o.tex.Name(), o.tex.Target(), int(r.Allocation.Desc.Width), int(r.Allocation.Desc.Height), 1); err != nil {
				return
			}
			if o.sem != nil {
				bufs, texs := o.barriers()
				err = o.sem.Signal(1, bufs, texs)
			}
			// Finished, so that the memory holds the drawing when the
			// process is killed.
			gl.Finish()
		})
		if err != nil {
			return err
		}
		break
	}
	if err := checkNoVulkan(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Printf("NOTE %s\n", n)
	}
	fmt.Printf("HELD %d %s\n", len(rs), strings.Join(names, "; "))
	for in.Scan() {
	}
	return nil
}

// free is a writer's FREE command: it releases the resource args[0]
// names, which the writer must hold, and says FREED.
func free[T any](cmd string, args []string, held map[bridge.Handle]T, release func(bridge.Handle) error) error {
	if err := needArgs(cmd, args, 1); err != nil {
		return err
	}
	kmt, err := parseKMT(args[0])
	if err != nil {
		return err
	}
	if _, ok := held[kmt]; !ok {
		return fmt.Errorf("FREE of %s, which this writer does not hold", args[0])
	}
	if err := release(kmt); err != nil {
		return err
	}
	fmt.Printf("FREED %s\n", args[0])
	return nil
}

// fdTargets lists what process pid's fds link to, as CountFDs counts
// them, for a message.
func fdTargets(pid int) []string {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && !strings.HasPrefix(target, "/sys/fs/cgroup/") {
			out = append(out, e.Name()+" → "+target)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing the test with cond's last
// state after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %s", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServiceAllocatorDeath: a GL-only process has the broker allocate
// textures, a buffer and host memory and is killed with kill -9 while it
// holds them; the broker, in a process of its own, frees them all (its
// List returns to empty) and holds as many fds as before the allocator
// started. A warm-up allocation of the same set, freed before the count,
// has the broker open its helper device first, so that the device's own
// fds are in both counts.
func TestServiceAllocatorDeath(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "broker.sock")
	brk := testenv.StartChild(t, "svc-broker", "GLB_SOCK="+sock)
	brk.Expect(t, "READY", childStart)
	pid := brk.Cmd.Process.Pid
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	list := func() []broker.ResourceInfo {
		l, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	countFDs := func() int {
		n, err := testenv.CountFDs(pid)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The allocations are GL's: its UUIDs, its semaphores.
	ctx := testenv.GLContext(t, glimport.Init)
	var id glimport.Identity
	ctx.Call(func() { id, err = glimport.QueryIdentity() })
	if err != nil {
		t.Fatal(err)
	}
	warm, _, notes, err := allocateHoldings(c, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		t.Logf("not allocated: %s", n)
	}
	for i := range warm {
		closeResourceFDs(&warm[i])
		// CloseHandle frees the resource before it replies, GPU
		// objects included.
		if err := c.CloseHandle(warm[i].Handle); err != nil {
			t.Fatal(err)
		}
	}
	if l := list(); len(l) != 0 {
		t.Fatalf("after the warm-up's handles closed, the broker lists %d resources", len(l))
	}
	before, beforeFDs := countFDs(), fdTargets(pid)

	a := testenv.StartChild(t, "svc-allocator", "GLB_SOCK="+sock)
	held := a.Expect(t, "HELD", childStart)
	n, names, _ := strings.Cut(held, " ")
	want, err := strconv.Atoi(n)
	if err != nil || want != len(warm) {
		t.Fatalf("the allocator says HELD %q; the warm-up allocated %d", held, len(warm))
	}
	t.Logf("the allocator (pid %d) holds %d resources: %s", a.Cmd.Process.Pid, want, names)
	l := list()
	hosts := 0
	for _, r := range l {
		if r.CreatorPID != int32(a.Cmd.Process.Pid) || r.AllocatedOn == "" || r.Refs != 1 {
			t.Errorf("the broker lists %v (%s) created by pid %d, allocated on %q, %d references; want the allocator's (pid %d), allocated by the broker, 1 reference",
				r.KMT, r.Allocation.Desc, r.CreatorPID, r.AllocatedOn, r.Refs, a.Cmd.Process.Pid)
		}
		if r.Allocation.HostMemory {
			hosts++
		}
	}
	if len(l) != want || hosts != 2 {
		t.Fatalf("the broker lists %d resources, %d of them host memory; the allocator holds %d, 2 of them host memory", len(l), hosts, want)
	}
	// Each resource's memory fd at least, and the connection: the count
	// sees what the broker holds.
	if during := countFDs(); during < before+want+1 {
		t.Fatalf("the broker holds %d fds with %d resources allocated, %d before: the count does not see them", during, want, before)
	} else {
		t.Logf("the broker holds %d fds before the allocator, %d while it holds its resources", before, during)
	}

	a.Kill()
	waitFor(t, "the broker to free the killed allocator's resources", 2*time.Minute, func() (bool, string) {
		l := list()
		return len(l) == 0, fmt.Sprintf("it still lists %d resources", len(l))
	})
	waitFor(t, "the broker's fds to return to their count before the allocator", 2*time.Minute, func() (bool, string) {
		now := countFDs()
		if now == before {
			return true, ""
		}
		after := fdTargets(pid)
		var gone, extra []string
		for _, f := range beforeFDs {
			if !slices.Contains(after, f) {
				gone = append(gone, f)
			}
		}
		for _, f := range after {
			if !slices.Contains(beforeFDs, f) {
				extra = append(extra, f)
			}
		}
		return false, fmt.Sprintf("%d fds, %d before; new: %q; gone: %q", now, before, extra, gone)
	})
	t.Logf("after kill -9 the broker lists no resources and holds %d fds, as before", before)
}
