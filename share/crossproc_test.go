package share_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

// The private runtime data a D3D layer would attach; it must arrive intact.
var privateData = []byte("d3d11 private runtime data: TEXTURE2D_DESC v4")

const (
	crossW, crossH, crossFrame = 67, 33, 7
	childTimeout               = 60 * time.Second
)

// glProducer is the wined3d role: it creates a resource on its GL's path,
// draws the test pattern into it and shares it (GLB_NAME: by name too).
func glProducer(in *bufio.Scanner) error {
	return asGLChild(func(e *glEnv, c *broker.Client) error {
		var err error
		var r *share.GLResource
		var kmt bridge.Handle
		e.ctx.Call(func() {
			d := desc2D(crossW, crossH, bridge.FormatR8G8B8A8Unorm)
			d.MiscFlags = 0x102 // D3D11_RESOURCE_MISC_SHARED | SHARED_KEYEDMUTEX
			if r, err = e.g.Create(d); err != nil {
				return
			}
			err = r.Access(bridge.AccessReadWrite, func() (err error) {
				name, target := r.Texture()
				err = testpattern.Draw(name, target, crossW, crossH, crossFrame)
				return err
			})
			if err == nil {
				kmt, err = r.Share(c, privateData)
			}
		})
		if r != nil {
			defer e.ctx.Call(func() { r.Close() })
		}
		if err != nil {
			return err
		}
		if name := os.Getenv("GLB_NAME"); name != "" {
			if _, err := c.Share(kmt, bridge.AccessRead, name); err != nil {
				return err
			}
		}
		if err := checkVulkanUnused(optsFromEnv()); err != nil {
			return err
		}
		fmt.Printf("KMT %#x path=%s\n", uint32(kmt), r.Path())
		for in.Scan() {
			if in.Text() == "exit" {
				return nil
			}
		}
		return nil
	})
}

// openFromEnv opens the resource named by GLB_KMT or GLB_NAME.
func openFromEnv(c *broker.Client) (broker.Resource, error) {
	if kmt := os.Getenv("GLB_KMT"); kmt != "" {
		v, err := strconv.ParseUint(kmt, 0, 32)
		if err != nil {
			return broker.Resource{}, err
		}
		return c.OpenKMT(bridge.Handle(v))
	}
	return c.OpenName(os.Getenv("GLB_NAME"), bridge.AccessRead)
}

func closeResourceFDs(res broker.Resource) {
	unix.Close(res.FD)
	for _, s := range res.Syncs {
		unix.Close(s.FD)
	}
}

// consume checks the producer's pattern with read, once and then on
// every "read", until "exit".
func consume(in *bufio.Scanner, path share.Path, w, h int, read func() ([]byte, error)) error {
	check := func() error {
		px, err := read()
		if err != nil {
			return err
		}
		if want := testpattern.Expected(w, h, crossFrame); !bytes.Equal(px, want) {
			return fmt.Errorf("texels differ from the producer's pattern at byte %d", firstDiff(px, want))
		}
		fmt.Printf("OK %d texels path=%s\n", len(px)/4, path)
		return nil
	}
	if err := check(); err != nil {
		return err
	}
	for in.Scan() {
		switch in.Text() {
		case "read":
			if err := check(); err != nil {
				return err
			}
		case "exit":
			return nil
		}
	}
	return nil
}

// openNamed opens with open what the parent names (GLB_KMT or GLB_NAME),
// checks that the private runtime data arrived intact, and closes the fds
// of the broker's reply, of which open keeps dups.
func openNamed[R interface{ Close() error }](c *broker.Client, open func(*broker.Client, broker.Resource) (R, error)) (R, broker.Resource, error) {
	var none R
	res, err := openFromEnv(c)
	if err != nil {
		return none, res, err
	}
	defer closeResourceFDs(res)
	if !bytes.Equal(res.Data, privateData) {
		return none, res, fmt.Errorf("private data %q, want %q", res.Data, privateData)
	}
	r, err := open(c, res)
	return r, res, err
}

// glConsumer is wined3d in another process: it opens the resource into
// its own GL context on its path and checks every texel.
func glConsumer(in *bufio.Scanner) error {
	return asGLChild(func(e *glEnv, c *broker.Client) error {
		var err error
		var r *share.GLResource
		var res broker.Resource
		e.ctx.Call(func() { r, res, err = openNamed(c, e.g.OpenShared) })
		if err != nil {
			return err
		}
		defer e.ctx.Call(func() { r.Close() })
		w, h := int(res.Allocation.Desc.Width), int(res.Allocation.Desc.Height)
		return consume(in, r.Path(), w, h, func() (px []byte, err error) {
			if err := checkVulkanUnused(optsFromEnv()); err != nil {
				return nil, err
			}
			e.ctx.Call(func() {
				err = r.Access(bridge.AccessRead, func() (err error) {
					name, target := r.Texture()
					px, err = glutil.ReadRGBA8(name, target, 0, w, h)
					return err
				})
			})
			return px, err
		})
	})
}

// vkConsumer is the DXVK role in a Vulkan-only process (no GL at all): it
// opens the resource on its Vulkan device and checks every texel.
func vkConsumer(in *bufio.Scanner) error {
	return asVulkanChild(func(v *share.Vulkan, c *broker.Client) error {
		r, res, err := openNamed(c, v.OpenShared)
		if err != nil {
			return err
		}
		defer r.Close()
		w, h := int(res.Allocation.Desc.Width), int(res.Allocation.Desc.Height)
		return consume(in, r.Path(), w, h, func() ([]byte, error) {
			var px []byte
			err := r.Access(bridge.AccessRead, func() (err error) {
				px, err = r.ReadPixels(bridge.Subresource{})
				return err
			})
			return px, err
		})
	})
}

// crossCases pair a producer's options with the consumers': zero-copy
// everywhere; the copy path forced everywhere; a GL-only producer (host
// memory) with a GL-only consumer and a Vulkan-only one; a producer
// refused the memory-object extension with zero-copy consumers; and
// GL-only producers whose memory the service allocates (Vulkan memory,
// and host memory for a GL refused the extension) with GL-only and
// Vulkan consumers.
var crossCases = []struct {
	name                    string
	prod, glCons, vkCons    share.Options
	wantProd, wantGL, wantV share.Path
}{
	{"zero-copy", share.Options{}, share.Options{}, share.Options{}, share.ZeroCopy, share.ZeroCopy, share.ZeroCopy},
	{"forced-copy", share.Options{ForceCopy: true}, share.Options{ForceCopy: true}, share.Options{ForceCopy: true}, share.CopyVulkan, share.CopyVulkan, share.CopyVulkan},
	{"gl-only/vulkan-only", share.WithNoVulkan(share.Options{}), share.WithNoVulkan(share.Options{}), share.Options{}, share.CopyHost, share.CopyHost, share.CopyHost},
	{"deny-memory-object/zero-copy", share.WithDenyMemoryObject(share.Options{}), share.Options{}, share.Options{}, share.CopyVulkan, share.ZeroCopy, share.ZeroCopy},
	{"service/zero-copy", service(share.Options{}), service(share.Options{}), share.Options{}, share.ZeroCopy, share.ZeroCopy, share.ZeroCopy},
	{"service-host/gl-only", service(share.WithDenyMemoryObject(share.Options{})), service(share.Options{}), share.Options{}, share.CopyHost, share.CopyHost, share.CopyHost},
}

// expectPath checks that a child's line ends in "path=want".
func expectPath(t *testing.T, who, line string, want share.Path) {
	t.Helper()
	_, got, ok := strings.Cut(line, "path=")
	if !ok || got != want.String() {
		t.Fatalf("%s reports %q; want path=%s", who, line, want)
	}
}

// TestCrossProcess: on every path, a producer process shares; GL and
// Vulkan-only consumer processes open by KMT handle and by name and check
// every texel; then the producer is killed (kill -9) while a GL and a
// Vulkan consumer hold the resource, which they still read, and once they
// are killed too the broker frees it.
func TestCrossProcess(t *testing.T) {
	for _, tc := range crossCases {
		t.Run(tc.name, func(t *testing.T) {
			sock := startBroker(t)
			name := `Local\glbridge-share-` + strings.ReplaceAll(tc.name, "/", "-")
			prod := testenv.StartChild(t, "gl-producer", "GLB_SOCK="+sock, "GLB_NAME="+name, optsEnv(tc.prod))
			line := prod.Expect(t, "KMT", childTimeout)
			expectPath(t, "producer", line, tc.wantProd)
			kmt := strings.Fields(line)[0]

			type consumer struct {
				role, open string
				opts       share.Options
				want       share.Path
			}
			consumers := []consumer{
				{"gl-consumer", "GLB_KMT=" + kmt, tc.glCons, tc.wantGL},
				{"gl-consumer", "GLB_NAME=" + name, tc.glCons, tc.wantGL},
				{"vk-consumer", "GLB_KMT=" + kmt, tc.vkCons, tc.wantV},
				{"vk-consumer", "GLB_NAME=" + name, tc.vkCons, tc.wantV},
			}
			// Started together, checked in turn.
			children := make([]*testenv.Child, len(consumers))
			for i, c := range consumers {
				children[i] = testenv.StartChild(t, c.role, "GLB_SOCK="+sock, c.open, optsEnv(c.opts))
			}
			for i, c := range consumers {
				cons := children[i]
				t.Run(c.role+"/"+strings.SplitN(c.open, "=", 2)[0], func(t *testing.T) {
					line := cons.Expect(t, "OK", childTimeout)
					expectPath(t, c.role, line, c.want)
					t.Log(line)
					cons.Send(t, "exit")
					cons.Wait(t, childTimeout)
				})
			}

			// kill -9 of the producer while consumers hold the resource.
			watch, err := broker.Dial(sock)
			if err != nil {
				t.Fatal(err)
			}
			defer watch.Close()
			holders := []*testenv.Child{
				testenv.StartChild(t, "gl-consumer", "GLB_SOCK="+sock, "GLB_KMT="+kmt, optsEnv(tc.glCons)),
				testenv.StartChild(t, "vk-consumer", "GLB_SOCK="+sock, "GLB_KMT="+kmt, optsEnv(tc.vkCons)),
			}
			for _, h := range holders {
				h.Expect(t, "OK", childTimeout)
			}
			prod.Kill()
			waitFor(t, "the producer's references to go", watch, func(l []broker.ResourceInfo) bool {
				if len(l) != 1 || l[0].CreatorConnected || len(l[0].Holders) != 2 {
					return false
				}
				// The holders left are the two consumers, no one else.
				pids := map[int32]bool{}
				for _, h := range l[0].Holders {
					pids[h.PID] = true
				}
				return pids[int32(holders[0].Cmd.Process.Pid)] && pids[int32(holders[1].Cmd.Process.Pid)]
			})
			for _, h := range holders {
				h.Send(t, "read")
				h.Expect(t, "OK", childTimeout)
			}
			for _, h := range holders {
				h.Kill()
			}
			waitFor(t, "the resource to be freed", watch, func(l []broker.ResourceInfo) bool { return len(l) == 0 })
		})
	}
}

func waitFor(t *testing.T, what string, c *broker.Client, ok func([]broker.ResourceInfo) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		if ok(l) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s; broker lists %+v", what, l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
