package share_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
	"github.com/glbridge/glbridge/share"
)

// TestMain runs the child processes of the cross-process tests, or the
// tests.
func TestMain(m *testing.M) {
	testenv.Dispatch(map[string]testenv.Body{
		"gl-producer": glProducer,
		"gl-consumer": glConsumer,
		"vk-consumer": vkConsumer,
		"pp-gl":       pingPongGL,
		"pp-vk":       pingPongVulkan,
		"fence-gl":    fenceProducerGL,
		"fence-vk":    fenceConsumerVulkan,
	})
	os.Exit(m.Run())
}

// glEnv is a GL context with sharing set up on it: what a GL renderer
// using glbridge has.
type glEnv struct {
	ctx *headless.Context
	g   *share.GL
}

// newGL makes a headless context and a share.GL on it; the caller closes
// it (closeGL), after its resources.
func newGL(opts share.Options) (*glEnv, error) {
	ctx, err := headless.New(headless.Options{})
	if err != nil {
		return nil, err
	}
	e := &glEnv{ctx: ctx}
	ctx.Call(func() { e.g, err = share.NewGL(ctx.ProcAddr, opts) })
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return e, nil
}

// glChild is what a GL child process starts with: a GL with the options
// its parent passed (GLB_OPTS) and a client of its parent's broker
// (GLB_SOCK); done releases both.
// A GL allocating through the service allocates through that client.
func glChild() (e *glEnv, c *broker.Client, done func(), err error) {
	if c, err = broker.Dial(os.Getenv("GLB_SOCK")); err != nil {
		return nil, nil, nil, err
	}
	opts := optsFromEnv()
	if opts.Service == viaService {
		opts.Service = c
	}
	if e, err = newGL(opts); err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	return e, c, func() { e.close(); c.Close() }, nil
}

// asGLChild runs body with what glChild gives, and releases it after.
func asGLChild(body func(e *glEnv, c *broker.Client) error) error {
	e, c, done, err := glChild()
	if err != nil {
		return err
	}
	defer done()
	return body(e, c)
}

// asVulkanChild runs body with what vulkanChild gives, and releases it
// after.
func asVulkanChild(body func(v *share.Vulkan, c *broker.Client) error) error {
	v, c, done, err := vulkanChild()
	if err != nil {
		return err
	}
	defer done()
	return body(v, c)
}

// vulkanChild is glChild for a Vulkan-only child process.
func vulkanChild() (v *share.Vulkan, c *broker.Client, done func(), err error) {
	if v, err = share.NewVulkan(nil, optsFromEnv()); err != nil {
		return nil, nil, nil, err
	}
	if c, err = broker.Dial(os.Getenv("GLB_SOCK")); err != nil {
		v.Close()
		return nil, nil, nil, err
	}
	return v, c, func() { c.Close(); v.Close() }, nil
}

func (e *glEnv) close() {
	e.ctx.Call(func() { e.g.Close() })
	e.ctx.Close()
}

// testGL makes a GL for a test; Options asking for viaService allocate
// through a broker started for the test.
func testGL(t testing.TB, opts share.Options) *glEnv {
	t.Helper()
	e, err := newGL(withService(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

func testVulkan(t testing.TB, opts share.Options) *share.Vulkan {
	t.Helper()
	v, err := share.NewVulkan(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// mode is one way two sides share: the options of the GL side and of the
// Vulkan side, and the paths each must end up on.
type mode struct {
	name           string
	gl, vk         share.Options
	wantGL, wantVK share.Path
}

// modes are the in-process pairings every scenario runs in: zero-copy on
// both sides; the copy path forced on both; a GL without Vulkan (host
// memory) with a Vulkan side; a GL refused its memory-object extension
// (Vulkan memory, which the Vulkan side imports zero-copy); and a GL-only
// process whose resources the broker allocates, as Vulkan memory it
// imports (service), as host memory for a GL refused the memory-object
// extension (service-host) and under ForceCopy (service-forced-copy).
var modes = []mode{
	{"zero-copy", share.Options{}, share.Options{}, share.ZeroCopy, share.ZeroCopy},
	{"forced-copy", share.Options{ForceCopy: true}, share.Options{ForceCopy: true}, share.CopyVulkan, share.CopyVulkan},
	{"gl-only", share.WithNoVulkan(share.Options{}), share.Options{}, share.CopyHost, share.CopyHost},
	{"deny-memory-object", share.WithDenyMemoryObject(share.Options{}), share.Options{}, share.CopyVulkan, share.ZeroCopy},
	{"service", service(share.Options{}), share.Options{}, share.ZeroCopy, share.ZeroCopy},
	{"service-host", service(share.WithDenyMemoryObject(share.Options{})), share.Options{}, share.CopyHost, share.CopyHost},
	{"service-forced-copy", service(share.Options{ForceCopy: true}), share.Options{}, share.CopyHost, share.CopyHost},
}

// withService returns opts, with a client of a broker started for the
// test in place of viaService.
func withService(t testing.TB, opts share.Options) share.Options {
	t.Helper()
	if opts.Service == viaService {
		c, err := broker.Dial(startBroker(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		opts.Service = c
	}
	return opts
}

// viaService marks Options whose GL allocates through the test's broker:
// testGL and glChild put a client of that broker in its place.
var viaService = &broker.Client{}

// service returns o for a GL-only process (the noVulkan test switch,
// checked by checkVulkanUnused) that allocates through the service.
func service(o share.Options) share.Options {
	o.Service = viaService
	return share.WithNoVulkan(o)
}

// optsFromEnv and optsEnv carry Options to child processes as a word list.
func optsEnv(o share.Options) string {
	var w []string
	if o.ForceCopy {
		w = append(w, "force")
	}
	if share.DeniesMemoryObject(o) {
		w = append(w, "deny")
	}
	if share.NoVulkan(o) {
		w = append(w, "novulkan")
	}
	if o.Service == viaService {
		w = append(w, "service")
	}
	return "GLB_OPTS=" + strings.Join(w, ",")
}

func optsFromEnv() share.Options {
	var o share.Options
	for _, w := range strings.Split(os.Getenv("GLB_OPTS"), ",") {
		switch w {
		case "force":
			o.ForceCopy = true
		case "deny":
			o = share.WithDenyMemoryObject(o)
		case "novulkan":
			o = share.WithNoVulkan(o)
		case "service":
			o.Service = viaService
		}
	}
	return o
}

// checkVulkanUnused fails a process run with NoVulkan that has loaded the
// Vulkan loader after all: a GL-only process must work without one.
func checkVulkanUnused(o share.Options) error {
	if !share.NoVulkan(o) {
		return nil
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	if strings.Contains(string(maps), "libvulkan") {
		return errors.New("a process with the noVulkan test switch loaded libvulkan")
	}
	return nil
}

// startBroker serves a broker in this process on a fresh socket.
func startBroker(t testing.TB) string { return testbroker.Start(t) }

func desc2D(w, h int, f bridge.Format) bridge.Desc {
	return bridge.Texture2D(uint32(w), uint32(h), f)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
