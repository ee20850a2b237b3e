package glimport

import (
	"errors"
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/internal/glutil"
)

// importFD is the duplicate of the caller's fd an import hands to GL,
// which owns it once an import succeeded (taken); until then it is
// glimport's to close.
type importFD struct {
	fd    int
	taken bool
}

func (d *importFD) closeUnlessTaken() {
	if !d.taken {
		unix.Close(d.fd)
	}
}

// importDup duplicates the caller's fd for an import and checks the dup
// with check before GL sees it, since drivers that refuse an fd do not
// always say so. The caller closes it with closeUnlessTaken.
func importDup(fd int, op, call string, check func(int) error) (*importFD, error) {
	if fd < 0 {
		return nil, fmt.Errorf("glimport: %s: invalid fd %d", op, fd)
	}
	dup, err := fdutil.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("glimport: %w", err)
	}
	if err := check(dup); err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("glimport: %s: fd %d %v; not imported", call, fd, err)
	}
	return &importFD{fd: dup}, nil
}

// Memory is a GL memory object holding imported memory. Textures and
// buffers (Memory.Texture, Memory.Buffer) are views of it; several may view
// one Memory.
type Memory struct {
	name   uint32
	size   uint64
	closed bool
}

// ImportMemory imports the memory behind fd, described by a, into a new GL
// memory object on the current context. It must run on the context's thread
// with the context current.
//
// The caller keeps fd: ImportMemory imports a close-on-exec duplicate, which
// a successful glImportMemoryFdEXT owns from then on (the driver closes it
// when done with it) and which ImportMemory closes itself on failure. So fd
// may be imported again, into this or another context, and must be closed
// by the caller. The caller owns the returned Memory and must Close it.
//
// The memory object is marked dedicated exactly when a.Dedicated says the
// exporter made a dedicated allocation, and a.Size must be the exporter's
// VkMemoryRequirements.size. Errors name the failing GL call and its GL
// error; without GL_EXT_memory_object_fd the error wraps
// bridge.ErrNoExternalMemory.
func ImportMemory(a bridge.Allocation, fd int) (*Memory, error) {
	mustBeLoaded()
	glutil.DrainErrors()
	if !hasExtensions("GL_EXT_memory_object", "GL_EXT_memory_object_fd") {
		return nil, fmt.Errorf("glimport: %w: the GL context lacks GL_EXT_memory_object_fd", bridge.ErrNoExternalMemory)
	}
	if a.Size == 0 {
		return nil, errors.New("glimport: ImportMemory: the allocation's size is 0")
	}
	dup, err := importDup(fd, "ImportMemory", "glImportMemoryFdEXT", func(d int) error { return checkMemoryFD(d, a.Size) })
	if err != nil {
		return nil, err
	}
	defer dup.closeUnlessTaken()

	m := &Memory{size: a.Size}
	gl.CreateMemoryObjectsEXT(1, &m.name)
	if err := glErr("glCreateMemoryObjectsEXT"); err != nil {
		return nil, err
	}
	fail := func(err error) (*Memory, error) {
		gl.DeleteMemoryObjectsEXT(1, &m.name)
		glutil.DrainErrors()
		return nil, err
	}
	// The dedicated flag is immutable once memory is imported.
	dedicated := int32(gl.FALSE)
	if a.Dedicated {
		dedicated = gl.TRUE
	}
	gl.MemoryObjectParameterivEXT(m.name, gl.DEDICATED_MEMORY_OBJECT_EXT, &dedicated)
	if err := glErr("glMemoryObjectParameterivEXT(GL_DEDICATED_MEMORY_OBJECT_EXT)"); err != nil {
		return fail(err)
	}
	gl.ImportMemoryFdEXT(m.name, a.Size, gl.HANDLE_TYPE_OPAQUE_FD_EXT, int32(dup.fd))
	if err := glErr("glImportMemoryFdEXT"); err != nil {
		// A GL error means the import did not happen and the fd is
		// still ours (EXT_external_objects_fd: only a successful import
		// transfers ownership).
		return fail(err)
	}
	dup.taken = true
	return m, nil
}

// checkMemoryFD refuses fds that cannot be exported memory on any driver
// before GL sees them. Mesa 22.3's glImportMemoryFdEXT raises no GL error
// when the driver refuses an fd: it closes the fd and leaves the memory
// object without memory, so the failure would only show later, as textures
// without storage (which Texture detects); and llvmpipe reads a header from
// the fd, blocking forever on a pipe whose writer is open. Driver fds are
// memfds (llvmpipe, lavapipe), dma-bufs or device files, so only what none
// of those can be is refused here.
func checkMemoryFD(fd int, size uint64) error {
	st, err := checkExportedFD(fd, "exported memory")
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG && (st.Size < 0 || uint64(st.Size) < size) {
		return fmt.Errorf("is a file of %d bytes, smaller than the allocation's %d", st.Size, size)
	}
	return nil
}

// checkExportedFD refuses fds that no driver exports (pipes, sockets,
// directories, block devices, the kernel's memory devices); what names
// what the fd should have been. It returns the fd's stat for further
// checks.
func checkExportedFD(fd int, what string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return st, fmt.Errorf("cannot be inspected: fstat: %w", err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return st, errors.New("is a pipe, not " + what)
	case unix.S_IFSOCK:
		return st, errors.New("is a socket, not " + what)
	case unix.S_IFDIR:
		return st, errors.New("is a directory, not " + what)
	case unix.S_IFBLK:
		return st, errors.New("is a block device, not " + what)
	case unix.S_IFCHR:
		// Major 1 is the kernel's memory devices: /dev/null, /dev/zero,
		// /dev/mem, /dev/random and the like.
		if unix.Major(st.Rdev) == 1 {
			return st, fmt.Errorf("is the character device %d:%d (/dev/null, /dev/zero or the like), not %s", unix.Major(st.Rdev), unix.Minor(st.Rdev), what)
		}
	}
	return st, nil
}

// Name returns the GL memory object name.
func (m *Memory) Name() uint32 { return m.name }

// Size returns the size the memory was imported with.
func (m *Memory) Size() uint64 { return m.size }

// Close deletes the memory object (glDeleteMemoryObjectsEXT). It must run on
// the context's thread with the context current, and is idempotent.
//
// Close the Memory's textures and buffers first. EXT_external_objects says
// a deleted memory object references no memory, but a texture's or
// buffer's storage stays referenced until it is deleted, so by the
// specification closing the Memory first is allowed and the memory lives
// on; glbridge does not rely on every driver getting that right, and nor
// should callers.
func (m *Memory) Close() error {
	if !m.closed {
		// GL finishes with the memory first: Mesa 22.3's llvmpipe
		// releases imported memory at glDeleteMemoryObjectsEXT even
		// while drawing into it is pending, and the process dies of
		// SIGSEGV when that drawing runs (interop's
		// TestContextCloseWithDrawingPending).
		gl.Finish()
	}
	return deleteOnce(&m.closed, gl.DeleteMemoryObjectsEXT, &m.name, "glDeleteMemoryObjectsEXT")
}
