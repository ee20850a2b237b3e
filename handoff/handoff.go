// Package handoff orders accesses to a shared image between GL and Vulkan
// in one process, with one API whatever the drivers can do:
//
//   - PathTimeline: one timeline semaphore, exported by the helper device
//     and imported into GL (GL_EXT_semaphore_fd + GL_NV_timeline_semaphore);
//     every access waits for the value the previous one signalled.
//   - PathBinary: two binary semaphores, one for each direction
//     (GL_EXT_semaphore_fd).
//   - PathFallback: no semaphore fds (Mesa 22.3): the end of a GL access
//     waits on the CPU for a GL fence (glFenceSync/glClientWaitSync), and
//     every Vulkan access completes (vkWaitForFences) before it returns.
//
// The caller brackets each access with Begin and End, for GL on the GL
// context's thread, and passes the vkalloc.Sync that BeginVulkan returns to
// the Vulkan operation. The image is handed over in VK_IMAGE_LAYOUT_GENERAL
// (vkalloc.RestingLayout), GL_LAYOUT_GENERAL_EXT on the GL side, released to
// and acquired from VK_QUEUE_FAMILY_EXTERNAL by vkalloc around each access.
//
// Across processes, accesses are ordered by the broker's keyed mutex
// (bridge), which uses the same semaphores where drivers share them.
package handoff

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// Path is how GL and Vulkan hand a resource over.
type Path int

// Paths. PathAuto, in Config, picks the best the drivers share.
const (
	PathAuto Path = iota
	PathTimeline
	PathBinary
	PathFallback
)

// String names the path as glshare reports it.
func (p Path) String() string {
	if p >= 0 && int(p) < len(pathNames) {
		return pathNames[p]
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

var pathNames = [...]string{
	PathAuto: "auto", PathTimeline: "timeline semaphore", PathBinary: "binary semaphores", PathFallback: "fallback (fences)",
}

// FenceTimeout bounds how long the fallback path waits for GL to finish an
// access before reporting an error.
const FenceTimeout = 10 * time.Second

// BestPath is the path PathAuto chooses for a GL context (id) and helper
// device (caps).
func BestPath(id glimport.Identity, caps helperdev.Caps) Path {
	switch {
	case id.SemaphoreFD && id.TimelineSemaphore && caps.TimelineSemaphoreFD:
		return PathTimeline
	case id.SemaphoreFD && caps.ExternalSemaphoreFD:
		return PathBinary
	}
	return PathFallback
}

// Config says what a Resource coordinates.
type Config struct {
	// Device is the helper device the Image lives on.
	Device *helperdev.Device
	// Image is the Vulkan view of the resource, Texture the GL view of the
	// same memory on the current GL context.
	Image   *vkalloc.Image
	Texture *glimport.Texture
	// GL describes the GL context (glimport.QueryIdentity).
	GL glimport.Identity
	// Path forces a path; PathAuto picks BestPath.
	Path Path
}

// side is who accessed the resource last.
type side int

const (
	sideNone side = iota
	sideGL
	sideVulkan
)

// Resource orders GL and Vulkan accesses to one shared image. Its methods
// are safe to call from several goroutines, but accesses must not overlap:
// a Begin while another access is open is a programming error and panics.
type Resource struct {
	path    Path
	image   *vkalloc.Image
	texture *glimport.Texture

	mu   sync.Mutex
	open side // the access in progress, or sideNone
	// Timeline path: the value the last access signalled.
	tlVK  *vkalloc.Semaphore
	tlGL  *glimport.Semaphore
	value uint64
	// Binary path: toVK is signalled by GL and waited for by Vulkan,
	// toGL the other way; pending* says a signal is not yet waited for.
	toVK, toGL               *vkalloc.Semaphore
	toVKGL, toGLGL           *glimport.Semaphore
	pendingToVK, pendingToGL bool

	accesses [2]uint64 // GL, Vulkan accesses completed
	closed   bool
}

// New sets up the hand-off for cfg. It must run on the GL context's thread
// with the context current (it imports semaphores into GL). The caller owns
// the Resource and must Close it on the same thread before closing the
// image and texture.
func New(cfg Config) (*Resource, error) {
	if cfg.Device == nil || cfg.Image == nil || cfg.Texture == nil {
		panic("handoff: Config needs Device, Image and Texture")
	}
	caps := cfg.Device.Caps()
	path := cfg.Path
	if path == PathAuto {
		path = BestPath(cfg.GL, caps)
		if forcedFallback() {
			path = PathFallback
		}
	}
	var missing string
	switch path {
	case PathTimeline:
		if BestPath(cfg.GL, caps) != PathTimeline {
			missing = "timeline semaphores shared as fds (GL_EXT_semaphore_fd, GL_NV_timeline_semaphore, VK_KHR_timeline_semaphore)"
		}
	case PathBinary:
		if !cfg.GL.SemaphoreFD || !caps.ExternalSemaphoreFD {
			missing = "semaphores shared as fds (GL_EXT_semaphore_fd, VK_KHR_external_semaphore_fd)"
		}
	case PathFallback:
	default:
		panic(fmt.Sprintf("handoff: unknown %v", path))
	}
	if missing != "" {
		return nil, fmt.Errorf("handoff: %w: %s needs %s, which GL %q with %q lack",
			bridge.ErrPathUnavailable, path, missing, cfg.GL.Renderer, caps.DeviceName)
	}
	r := &Resource{path: path, image: cfg.Image, texture: cfg.Texture}
	var err error
	switch path {
	case PathTimeline:
		r.tlVK, r.tlGL, err = sharedSemaphore(cfg.Device, true)
	case PathBinary:
		if r.toVK, r.toVKGL, err = sharedSemaphore(cfg.Device, false); err == nil {
			r.toGL, r.toGLGL, err = sharedSemaphore(cfg.Device, false)
		}
	}
	if err != nil {
		r.closeSemaphores()
		return nil, err
	}
	return r, nil
}

// exportedSemaphore makes a semaphore on dev and exports it; the caller
// owns both.
func exportedSemaphore(dev *helperdev.Device, timeline bool) (*vkalloc.Semaphore, int, error) {
	s, err := vkalloc.NewSemaphore(dev, timeline)
	if err != nil {
		return nil, -1, fmt.Errorf("handoff: %w", err)
	}
	fd, err := s.ExportFD()
	if err != nil {
		s.Close()
		return nil, -1, fmt.Errorf("handoff: %w", err)
	}
	return s, fd, nil
}

// sharedSemaphore makes a semaphore on the helper device and imports it
// into the current GL context.
func sharedSemaphore(dev *helperdev.Device, timeline bool) (*vkalloc.Semaphore, *glimport.Semaphore, error) {
	vs, fd, err := exportedSemaphore(dev, timeline)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(fd) // ImportSemaphore imports a dup
	gs, err := glimport.ImportSemaphore(fd, timeline)
	if err != nil {
		vs.Close()
		return nil, nil, fmt.Errorf("handoff: %w", err)
	}
	return vs, gs, nil
}

// Path returns the path in use.
func (r *Resource) Path() Path { return r.path }

// Stats reports how many GL and Vulkan accesses have completed.
func (r *Resource) Stats() (gl, vulkan uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accesses[0], r.accesses[1]
}

func (r *Resource) begin(s side) {
	if r.closed {
		panic("handoff: access to a closed Resource")
	}
	if r.open != sideNone {
		panic(fmt.Sprintf("handoff: Begin%s while a %s access is open", sideName(s), sideName(r.open)))
	}
	r.open = s
}

func (r *Resource) end(s side) {
	if r.open != s {
		panic(fmt.Sprintf("handoff: End%s without Begin%s", sideName(s), sideName(s)))
	}
	r.open = sideNone
}

func sideName(s side) string {
	return map[side]string{sideGL: "GL", sideVulkan: "Vulkan", sideNone: "none"}[s]
}

func (r *Resource) glTextures() []glimport.TextureLayout {
	return []glimport.TextureLayout{{Texture: r.texture, Layout: glimport.LayoutGeneral}}
}

// BeginGL starts a GL access: on the semaphore paths GL waits (on the GPU)
// for the last Vulkan access. It must run on the GL context's thread.
func (r *Resource) BeginGL(access bridge.Access) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.begin(sideGL)
	var err error
	switch r.path {
	case PathTimeline:
		if r.value > 0 {
			err = r.tlGL.Wait(r.value, nil, r.glTextures())
		}
	case PathBinary:
		if r.pendingToGL {
			if err = r.toGLGL.Wait(0, nil, r.glTextures()); err == nil {
				r.pendingToGL = false
			}
		}
	}
	if err != nil {
		r.open = sideNone
		return fmt.Errorf("handoff: BeginGL(%s): %w", access, err)
	}
	return nil
}

// EndGL ends a GL access and hands the resource over: on the semaphore
// paths GL signals (and flushes), on the fallback path EndGL waits until GL
// has finished the access. It must run on the GL context's thread.
func (r *Resource) EndGL() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end(sideGL)
	var err error
	switch r.path {
	case PathTimeline:
		if err = r.tlGL.Signal(r.value+1, nil, r.glTextures()); err == nil {
			r.value++
		}
	case PathBinary:
		if r.pendingToVK {
			// Vulkan has not consumed the last signal, which covers only
			// the earlier GL work: consume it here, then signal anew.
			if err = r.toVKGL.Wait(0, nil, r.glTextures()); err != nil {
				break
			}
			r.pendingToVK = false
		}
		if err = r.toVKGL.Signal(0, nil, r.glTextures()); err == nil {
			r.pendingToVK = true
		}
	case PathFallback:
		err = FinishGL()
	}
	if err != nil {
		return fmt.Errorf("handoff: EndGL: %w", err)
	}
	r.accesses[0]++
	return nil
}

// FinishGL waits on the CPU until GL has executed every command issued so
// far on the current context, through a fence rather than glFinish, so
// that the wait is bounded (FenceTimeout) and its failure reported. It is
// how the fallback path ends a GL access; it must run on the GL thread.
func FinishGL() error {
	glutil.DrainErrors()
	fence := gl.FenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0)
	if fence == 0 {
		return glutil.CheckError("glFenceSync")
	}
	defer gl.DeleteSync(fence)
	deadline := time.Now().Add(FenceTimeout)
	for {
		switch st := gl.ClientWaitSync(fence, gl.SYNC_FLUSH_COMMANDS_BIT, uint64(100*time.Millisecond)); st {
		case gl.ALREADY_SIGNALED, gl.CONDITION_SATISFIED:
			return nil
		case gl.TIMEOUT_EXPIRED:
			if time.Now().After(deadline) {
				return fmt.Errorf("glClientWaitSync: GL did not finish within %v: %w", FenceTimeout, bridge.ErrTimeout)
			}
		default:
			if err := glutil.CheckError("glClientWaitSync"); err != nil {
				return err
			}
			return fmt.Errorf("glClientWaitSync: GL_WAIT_FAILED")
		}
	}
}

// vkSemaphores are a Vulkan device's handles of a Resource's semaphores:
// the helper device's own, or a Peer's imports of them.
type vkSemaphores struct {
	tl, toVK, toGL *vkalloc.Semaphore
}

// BeginVulkan starts a Vulkan access on the helper device and returns the
// Sync the Vulkan operation must be given: it waits for the last GL access
// and signals what the next GL access will wait for. Call EndVulkan with
// the operation's error afterwards.
func (r *Resource) BeginVulkan(access bridge.Access) (vkalloc.Sync, error) {
	return r.beginVulkan(vkSemaphores{r.tlVK, r.toVK, r.toGL}), nil
}

// beginVulkan starts a Vulkan access of a device whose handles of the
// semaphores are sems. Every Vulkan device's access is ordered the same
// way: after the last access, whoever made it (GL, the helper device or a
// peer), since each waits for what the last one signalled.
func (r *Resource) beginVulkan(sems vkSemaphores) vkalloc.Sync {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.begin(sideVulkan)
	var s vkalloc.Sync
	switch r.path {
	case PathTimeline:
		if r.value > 0 {
			s.Wait = []vkalloc.SemaphoreValue{{Semaphore: sems.tl, Value: r.value}}
		}
		s.Signal = []vkalloc.SemaphoreValue{{Semaphore: sems.tl, Value: r.value + 1}}
	case PathBinary:
		if r.pendingToVK {
			s.Wait = append(s.Wait, vkalloc.SemaphoreValue{Semaphore: sems.toVK})
		}
		if r.pendingToGL {
			// Nobody has consumed the last Vulkan signal (GL, or the
			// next Vulkan access, does): consume it, so that it can be
			// signalled again and this access follows that one.
			s.Wait = append(s.Wait, vkalloc.SemaphoreValue{Semaphore: sems.toGL})
		}
		s.Signal = []vkalloc.SemaphoreValue{{Semaphore: sems.toGL}}
	}
	return s
}

// EndVulkan ends the Vulkan access begun by BeginVulkan (or a Peer's
// BeginVulkan). opErr is the error of the Vulkan operation: when it
// failed, its semaphore operations did not happen, and the hand-off state
// stays as it was.
func (r *Resource) EndVulkan(opErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end(sideVulkan)
	if opErr != nil {
		return
	}
	switch r.path {
	case PathTimeline:
		r.value++
	case PathBinary:
		r.pendingToVK = false
		r.pendingToGL = true
	}
	r.accesses[1]++
}

// SemaphoreFDs exports the hand-off's semaphores, for a Vulkan device in
// another process to import (vkalloc.ImportSemaphore) and to order its
// accesses with: one timeline semaphore on PathTimeline, the GL-to-Vulkan
// and the Vulkan-to-GL binary semaphores on PathBinary, none on the
// fallback path. The caller owns the fds. Across processes the accesses
// are ordered by the broker's keyed mutex, whose values count on the
// timeline semaphore.
func (r *Resource) SemaphoreFDs() (fds []int, timeline bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range []*vkalloc.Semaphore{r.tlVK, r.toVK, r.toGL} {
		if s == nil {
			continue
		}
		fd, err := s.ExportFD()
		if err != nil {
			for _, f := range fds {
				unix.Close(f)
			}
			return nil, false, fmt.Errorf("handoff: %w", err)
		}
		fds = append(fds, fd)
	}
	return fds, r.path == PathTimeline, nil
}

// Peer is a second Vulkan device's part in a Resource: a device with its
// own instance that imported the image's memory (as DXVK or vkd3d-proton
// would in this process), whose accesses are ordered with GL's and the
// helper device's through the Resource's semaphores, imported into it
// with the queue-family rules the external-memory spec requires (each
// access acquires the image from VK_QUEUE_FAMILY_EXTERNAL and releases it
// back, in VK_IMAGE_LAYOUT_GENERAL, as the helper device's do).
type Peer struct {
	r      *Resource
	sems   vkSemaphores
	closed bool
}

// NewPeer imports r's semaphores into dev, which must have imported r's
// image (vkalloc.ImportImage) to access it. On the fallback path there is
// nothing to import: every Vulkan access completes before it returns,
// on any device. The caller owns the Peer and closes it before r.
func (r *Resource) NewPeer(dev *helperdev.Device) (*Peer, error) {
	fds, timeline, err := r.SemaphoreFDs()
	if err != nil {
		return nil, err
	}
	p := &Peer{r: r}
	var imported []*vkalloc.Semaphore
	for i, fd := range fds {
		s, err := vkalloc.ImportSemaphore(dev, fd, timeline)
		if err != nil {
			for _, f := range fds[i:] {
				unix.Close(f)
			}
			for _, s := range imported {
				s.Close()
			}
			return nil, fmt.Errorf("handoff: NewPeer: %w", err)
		}
		imported = append(imported, s)
	}
	switch r.path {
	case PathTimeline:
		p.sems.tl = imported[0]
	case PathBinary:
		p.sems.toVK, p.sems.toGL = imported[0], imported[1]
	}
	return p, nil
}

// BeginVulkan starts an access by the peer device, as Resource.BeginVulkan
// does for the helper device; pass the Sync to the operation on the peer's
// image and end the access with EndVulkan.
func (p *Peer) BeginVulkan(access bridge.Access) (vkalloc.Sync, error) {
	if p.closed {
		panic("handoff: access through a closed Peer")
	}
	return p.r.beginVulkan(p.sems), nil
}

// EndVulkan ends the peer's access begun by BeginVulkan.
func (p *Peer) EndVulkan(opErr error) { p.r.EndVulkan(opErr) }

// Close releases the peer's imports of the semaphores. It is idempotent.
func (p *Peer) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	for _, s := range []*vkalloc.Semaphore{p.sems.tl, p.sems.toVK, p.sems.toGL} {
		if s != nil {
			s.Close()
		}
	}
	return nil
}

// Close releases the semaphores. It must run on the GL context's thread,
// after the last access; it waits for GL to finish with them. It is
// idempotent.
func (r *Resource) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if r.open != sideNone {
		panic("handoff: Close while an access is open")
	}
	r.closed = true
	if r.path != PathFallback {
		// GL may still have a semaphore operation queued.
		gl.Finish()
	}
	r.closeSemaphores()
	return nil
}

func (r *Resource) closeSemaphores() {
	for _, s := range []*glimport.Semaphore{r.tlGL, r.toVKGL, r.toGLGL} {
		if s != nil {
			s.Close()
		}
	}
	for _, s := range []*vkalloc.Semaphore{r.tlVK, r.toVK, r.toGL} {
		if s != nil {
			s.Close()
		}
	}
}

// ForceFallbackEnv names the variable that, set to 1, makes every hand-off
// use the fence fallback even where the drivers share semaphores: for
// testing that path on hardware that has better.
const ForceFallbackEnv = "GLBRIDGE_FORCE_FALLBACK"

func forcedFallback() bool { return os.Getenv(ForceFallbackEnv) == "1" }
