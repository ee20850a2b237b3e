package glimport

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
)

// Layout is a GL texture layout (GL_LAYOUT_*_EXT, EXT_external_objects table
// 4.4): the layout a texture is in when GL waits on a semaphore, or is to be
// left in when GL signals one, given as the Vulkan image layout it stands
// for so that both APIs agree on what the memory holds.
type Layout uint32

// The layouts of EXT_external_objects. LayoutUndefined (GL_NONE) stands for
// VK_IMAGE_LAYOUT_UNDEFINED: the contents need not be kept.
const (
	LayoutUndefined                      Layout = gl.NONE
	LayoutGeneral                        Layout = gl.LAYOUT_GENERAL_EXT
	LayoutColorAttachment                Layout = gl.LAYOUT_COLOR_ATTACHMENT_EXT
	LayoutDepthStencilAttachment         Layout = gl.LAYOUT_DEPTH_STENCIL_ATTACHMENT_EXT
	LayoutDepthStencilReadOnly           Layout = gl.LAYOUT_DEPTH_STENCIL_READ_ONLY_EXT
	LayoutShaderReadOnly                 Layout = gl.LAYOUT_SHADER_READ_ONLY_EXT
	LayoutTransferSrc                    Layout = gl.LAYOUT_TRANSFER_SRC_EXT
	LayoutTransferDst                    Layout = gl.LAYOUT_TRANSFER_DST_EXT
	LayoutDepthReadOnlyStencilAttachment Layout = gl.LAYOUT_DEPTH_READ_ONLY_STENCIL_ATTACHMENT_EXT
	LayoutDepthAttachmentStencilReadOnly Layout = gl.LAYOUT_DEPTH_ATTACHMENT_STENCIL_READ_ONLY_EXT
)

// The two VkImageLayout values of Vulkan 1.1 (VK_KHR_maintenance2) that are
// not small numbers.
const (
	vkDepthReadOnlyStencilAttachment = 1000117000 // VK_IMAGE_LAYOUT_DEPTH_READ_ONLY_STENCIL_ATTACHMENT_OPTIMAL
	vkDepthAttachmentStencilReadOnly = 1000117001 // VK_IMAGE_LAYOUT_DEPTH_ATTACHMENT_STENCIL_READ_ONLY_OPTIMAL
)

// layouts pairs each GL layout with its VkImageLayout value and name; it is
// EXT_external_objects table 4.4, as Chromium's VkImageLayoutToGLImageLayout
// and piglit's gl_get_layout_from_vk have it.
var layouts = []struct {
	gl   Layout
	vk   uint32
	name string
}{
	{LayoutUndefined, 0, "GL_NONE"},
	{LayoutGeneral, 1, "GL_LAYOUT_GENERAL_EXT"},
	{LayoutColorAttachment, 2, "GL_LAYOUT_COLOR_ATTACHMENT_EXT"},
	{LayoutDepthStencilAttachment, 3, "GL_LAYOUT_DEPTH_STENCIL_ATTACHMENT_EXT"},
	{LayoutDepthStencilReadOnly, 4, "GL_LAYOUT_DEPTH_STENCIL_READ_ONLY_EXT"},
	{LayoutShaderReadOnly, 5, "GL_LAYOUT_SHADER_READ_ONLY_EXT"},
	{LayoutTransferSrc, 6, "GL_LAYOUT_TRANSFER_SRC_EXT"},
	{LayoutTransferDst, 7, "GL_LAYOUT_TRANSFER_DST_EXT"},
	{LayoutDepthReadOnlyStencilAttachment, vkDepthReadOnlyStencilAttachment, "GL_LAYOUT_DEPTH_READ_ONLY_STENCIL_ATTACHMENT_EXT"},
	{LayoutDepthAttachmentStencilReadOnly, vkDepthAttachmentStencilReadOnly, "GL_LAYOUT_DEPTH_ATTACHMENT_STENCIL_READ_ONLY_EXT"},
}

// LayoutFromVulkan returns the GL layout for VkImageLayout vkLayout, and
// false for layouts GL has no equivalent of (VK_IMAGE_LAYOUT_PREINITIALIZED,
// VK_IMAGE_LAYOUT_PRESENT_SRC_KHR and the like).
func LayoutFromVulkan(vkLayout uint32) (Layout, bool) {
	for _, l := range layouts {
		if l.vk == vkLayout {
			return l.gl, true
		}
	}
	return 0, false
}

// Vulkan returns the VkImageLayout l stands for. It panics when l is not one
// of the Layout constants.
func (l Layout) Vulkan() uint32 {
	for _, e := range layouts {
		if e.gl == l {
			return e.vk
		}
	}
	panic(fmt.Sprintf("glimport: Vulkan of unknown layout 0x%x", uint32(l)))
}

// Valid reports whether l is one of the Layout constants.
func (l Layout) Valid() bool {
	for _, e := range layouts {
		if e.gl == l {
			return true
		}
	}
	return false
}

// String returns the GL token's name, or its value in hex for unknown
// layouts.
func (l Layout) String() string {
	for _, e := range layouts {
		if e.gl == l {
			return e.name
		}
	}
	return fmt.Sprintf("Layout(0x%x)", uint32(l))
}

// TextureLayout names a texture taking part in a semaphore wait or signal
// and its layout: for Wait, the layout the other API left it in; for
// Signal, the layout GL is to leave it in for the other API.
type TextureLayout struct {
	Texture *Texture
	Layout  Layout
}

// Semaphore is a GL semaphore object holding a semaphore imported from an
// opaque fd (GL_EXT_semaphore_fd), binary or, with GL_NV_timeline_semaphore,
// timeline. Like every GL object it belongs to the context it was imported
// on (and those sharing objects with it); all its methods must run on that
// context's thread with the context current.
type Semaphore struct {
	name     uint32
	timeline bool
	closed   bool
}

// ImportSemaphore imports the semaphore behind fd, as exported with
// VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT, into a new GL semaphore
// object on the current context. timeline must say whether the exporter
// made a timeline semaphore. It must run on the context's thread with the
// context current.
//
// The caller keeps fd: ImportSemaphore imports a close-on-exec duplicate,
// which a successful glImportSemaphoreFdEXT owns from then on and which
// ImportSemaphore closes itself on failure. So fd may be imported again and
// must be closed by the caller. The caller owns the returned Semaphore and
// must Close it.
//
// Errors name the failing GL call and its GL error. Without
// GL_EXT_semaphore_fd (or, for a timeline semaphore,
// GL_NV_timeline_semaphore) the error wraps bridge.ErrNoExternalSemaphore and names
// the missing extension.
func ImportSemaphore(fd int, timeline bool) (*Semaphore, error) {
	mustBeLoaded()
	glutil.DrainErrors()
	exts := extensions()
	var missing []string
	for _, need := range []string{"GL_EXT_semaphore", "GL_EXT_semaphore_fd"} {
		if _, ok := slices.BinarySearch(exts, need); !ok {
			missing = append(missing, need)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("glimport: %w: the GL context lacks %s", bridge.ErrNoExternalSemaphore, strings.Join(missing, " and "))
	}
	if _, ok := slices.BinarySearch(exts, "GL_NV_timeline_semaphore"); timeline && !ok {
		return nil, fmt.Errorf("glimport: %w: the GL context lacks GL_NV_timeline_semaphore, which timeline semaphores need", bridge.ErrNoExternalSemaphore)
	}
	dup, err := importDup(fd, "ImportSemaphore", "glImportSemaphoreFdEXT", checkSemaphoreFD)
	if err != nil {
		return nil, err
	}
	defer dup.closeUnlessTaken()

	s := &Semaphore{timeline: timeline}
	fail := func(err error) (*Semaphore, error) {
		gl.DeleteSemaphoresEXT(1, &s.name)
		glutil.DrainErrors()
		return nil, err
	}
	if timeline {
		// glGenSemaphoresEXT only reserves a name; the type can be set
		// only on an object that exists and has nothing imported yet
		// (NV_timeline_semaphore), hence glCreateSemaphoresNV.
		gl.CreateSemaphoresNV(1, &s.name)
		if err := glErr("glCreateSemaphoresNV"); err != nil {
			return nil, err
		}
		typ := int32(gl.SEMAPHORE_TYPE_TIMELINE_NV)
		gl.SemaphoreParameterivNV(s.name, gl.SEMAPHORE_TYPE_NV, &typ)
		if err := glErr("glSemaphoreParameterivNV(GL_SEMAPHORE_TYPE_NV, GL_SEMAPHORE_TYPE_TIMELINE_NV)"); err != nil {
			return fail(err)
		}
	} else {
		gl.GenSemaphoresEXT(1, &s.name)
		if err := glErr("glGenSemaphoresEXT"); err != nil {
			return nil, err
		}
	}
	gl.ImportSemaphoreFdEXT(s.name, gl.HANDLE_TYPE_OPAQUE_FD_EXT, int32(dup.fd))
	if err := glErr("glImportSemaphoreFdEXT"); err != nil {
		// Only a successful import transfers the fd
		// (EXT_external_objects_fd), so dup is still ours.
		return fail(err)
	}
	dup.taken = true
	if timeline {
		// A driver that ignored the type would treat timeline values as
		// binary signals, which fails later and far from here.
		var typ int32
		gl.GetSemaphoreParameterivNV(s.name, gl.SEMAPHORE_TYPE_NV, &typ)
		if err := glErr("glGetSemaphoreParameterivNV(GL_SEMAPHORE_TYPE_NV)"); err != nil {
			return fail(err)
		}
		if typ != gl.SEMAPHORE_TYPE_TIMELINE_NV {
			return fail(fmt.Errorf("glimport: glImportSemaphoreFdEXT: semaphore %d has type 0x%x after the import, not GL_SEMAPHORE_TYPE_TIMELINE_NV", s.name, typ))
		}
	}
	return s, nil
}

// checkSemaphoreFD refuses fds that cannot be an exported semaphore on any
// driver before GL sees them, as checkMemoryFD does for memory. Semaphore
// fds are DRM syncobjs (anonymous inodes) on Mesa's kernel drivers and
// device files or anonymous inodes on NVIDIA, so those pass.
func checkSemaphoreFD(fd int) error {
	_, err := checkExportedFD(fd, "an exported semaphore")
	return err
}

// Name returns the GL semaphore object name.
func (s *Semaphore) Name() uint32 { return s.name }

// Timeline reports whether s was imported as a timeline semaphore.
func (s *Semaphore) Timeline() bool { return s.timeline }

// barriers turns the buffer and texture lists into the C arrays
// glWaitSemaphoreEXT and glSignalSemaphoreEXT take: pointers to the first
// element of Go slices, which hold no Go pointers and may be passed to C
// for the call, and nil for empty lists.
// prepare is what Wait and Signal (op, through call) do first: check s,
// turn the barriers into GL's arrays, and set a timeline value.
func (s *Semaphore) prepare(op, call string, value uint64, buffers []uint32, textures []TextureLayout) (bufs, texs, lays *uint32, err error) {
	mustBeLoaded()
	if s.closed {
		return nil, nil, nil, fmt.Errorf("glimport: %s on semaphore %d: %w", op, s.name, bridge.ErrClosed)
	}
	if bufs, texs, lays, err = barriers(call, buffers, textures); err != nil {
		return nil, nil, nil, err
	}
	glutil.DrainErrors()
	if err := s.setValue(call, value); err != nil {
		return nil, nil, nil, err
	}
	return bufs, texs, lays, nil
}

func barriers(call string, buffers []uint32, textures []TextureLayout) (bufs, texs, lays *uint32, err error) {
	names := make([]uint32, len(textures))
	layouts := make([]uint32, len(textures))
	for i, tl := range textures {
		if tl.Texture == nil {
			panic(fmt.Sprintf("glimport: %s: texture %d of the list is nil", call, i))
		}
		if !tl.Layout.Valid() {
			panic(fmt.Sprintf("glimport: %s: texture %d has unknown layout 0x%x", call, i, uint32(tl.Layout)))
		}
		if tl.Texture.closed {
			return nil, nil, nil, fmt.Errorf("glimport: %s: texture %d of the list: %w", call, i, bridge.ErrClosed)
		}
		names[i], layouts[i] = tl.Texture.name, uint32(tl.Layout)
	}
	if len(buffers) > 0 {
		bufs = &buffers[0]
	}
	if len(textures) > 0 {
		texs, lays = &names[0], &layouts[0]
	}
	return bufs, texs, lays, nil
}

// setValue sets the value the next wait or signal of a timeline semaphore
// uses.
func (s *Semaphore) setValue(call string, value uint64) error {
	if !s.timeline {
		return nil
	}
	gl.SemaphoreParameterui64vEXT(s.name, gl.TIMELINE_SEMAPHORE_VALUE_NV, &value)
	return glErr(fmt.Sprintf("glSemaphoreParameterui64vEXT(GL_TIMELINE_SEMAPHORE_VALUE_NV, %d) before %s", value, call))
}

// Wait makes the GL server wait for s before it runs later commands that
// touch buffers and textures (glWaitSemaphoreEXT); the CPU does not block.
// For a timeline semaphore it waits for value or more; a binary one ignores
// value. Each texture's Layout is the layout the signalling side left it in
// (LayoutGeneral for glbridge's images, which rest in
// VK_IMAGE_LAYOUT_GENERAL). Objects the other API wrote must be listed, or
// GL may use stale caches of them.
//
// It must run on the context's thread with the context current. A nil
// texture or a layout that is not a Layout constant panics.
func (s *Semaphore) Wait(value uint64, buffers []uint32, textures []TextureLayout) error {
	bufs, texs, lays, err := s.prepare("Wait", "glWaitSemaphoreEXT", value, buffers, textures)
	if err != nil {
		return err
	}
	gl.WaitSemaphoreEXT(s.name, uint32(len(buffers)), bufs, uint32(len(textures)), texs, lays)
	return glErr("glWaitSemaphoreEXT")
}

// Signal signals s once the GL commands issued so far are done
// (glSignalSemaphoreEXT), leaving each texture in its Layout for the waiter,
// and then flushes, so that the signal reaches the GPU even on drivers that
// predate the implicit flush (added to EXT_external_objects only in 2022,
// OpenGL-Registry#526); without it a Vulkan waiter could wait forever. For
// a timeline semaphore it signals value, which must be greater than the
// semaphore's current value; a binary one ignores value.
//
// It must run on the context's thread with the context current. A nil
// texture or a layout that is not a Layout constant panics.
func (s *Semaphore) Signal(value uint64, buffers []uint32, textures []TextureLayout) error {
	bufs, texs, lays, err := s.prepare("Signal", "glSignalSemaphoreEXT", value, buffers, textures)
	if err != nil {
		return err
	}
	gl.SignalSemaphoreEXT(s.name, uint32(len(buffers)), bufs, uint32(len(textures)), texs, lays)
	if err := glErr("glSignalSemaphoreEXT"); err != nil {
		return err
	}
	gl.Flush()
	return glErr("glFlush")
}

// Close deletes the semaphore object (glDeleteSemaphoresEXT), which releases
// the imported semaphore. It must run on the context's thread with the
// context current, and is idempotent.
func (s *Semaphore) Close() error {
	return deleteOnce(&s.closed, gl.DeleteSemaphoresEXT, &s.name, "glDeleteSemaphoresEXT")
}
