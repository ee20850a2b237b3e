package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/vkalloc"
)

// formatRow is one format × kind of glshare info --formats. Its JSON field
// names are a stable interface for scripts.
type formatRow struct {
	Format string `json:"format"`
	Kind   string `json:"kind"`
	// Desc is the description asked about; its size is nominal, small.
	Desc string `json:"desc"`
	// VkFormat is the storage the helper device would use (0 when none).
	VkFormat      uint32 `json:"vk_format"`
	Exportable    bool   `json:"exportable"`
	Importable    bool   `json:"importable"`
	DedicatedOnly bool   `json:"dedicated_only"`
	// GLImportable says GL can make the texture (or buffer). GLCheck says
	// how that was decided: "table" (the format table has a GL internal
	// format for the storage and GL's rules allow the kind:
	// glimport.CheckTexture), or "probe" (a small allocation was really
	// exported, imported into GL and made a texture).
	GLImportable bool   `json:"gl_importable"`
	GLCheck      string `json:"gl_check"`
	Renderable   bool   `json:"renderable"`
	Sampleable   bool   `json:"sampleable"`
	// Reason says why something above is false, when it is.
	Reason string `json:"reason,omitempty"`
}

// formatsReport is what glshare info --formats prints.
type formatsReport struct {
	GLRenderer string      `json:"gl_renderer"`
	VKDevice   string      `json:"vk_device"`
	Probed     bool        `json:"probed"`
	Rows       []formatRow `json:"rows"`
}

// formatKind is one column of the table: a small description of each kind
// of resource Direct3D shares.
type formatKind struct {
	name string
	desc func(f bridge.Format) bridge.Desc
}

func kindDesc(dim bridge.Dimension, w, h, n, samples uint32) func(bridge.Format) bridge.Desc {
	return func(f bridge.Format) bridge.Desc {
		d := bridge.Desc{Dimension: dim, Width: w, Height: h, DepthOrArraySize: n, MipLevels: 1, SampleCount: samples, Format: f}
		if dim == bridge.DimensionTextureCube {
			d.MiscFlags = 0x4 // D3D11_RESOURCE_MISC_TEXTURECUBE
		}
		return d
	}
}

var formatKinds = []formatKind{
	{"2d", kindDesc(bridge.DimensionTexture2D, 16, 16, 1, 1)},
	{"2d-array", kindDesc(bridge.DimensionTexture2D, 16, 16, 4, 1)},
	{"cube", kindDesc(bridge.DimensionTextureCube, 16, 16, 1, 1)},
	{"3d", kindDesc(bridge.DimensionTexture3D, 16, 16, 4, 1)},
	{"1d", kindDesc(bridge.DimensionTexture1D, 16, 1, 1, 1)},
	{"2d-ms4", kindDesc(bridge.DimensionTexture2D, 16, 16, 1, 4)},
}

// glCheck is formatRow.GLCheck for a report made with or without probe.
func glCheck(probe bool) string {
	if probe {
		return "probe"
	}
	return "table"
}

// gatherFormats asks the helper device matched to the GL context on
// platform about every format × kind, and GL about the ones it can share:
// by the table, or with probe by importing a real allocation of each.
func gatherFormats(platform string, probe bool) (*formatsReport, error) {
	env, err := gpuenv.NewEnv(platform)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	r := &formatsReport{GLRenderer: env.ID.Renderer, VKDevice: env.Dev.Caps().DeviceName, Probed: probe}
	for _, fi := range bridge.Formats() {
		for _, k := range formatKinds {
			r.Rows = append(r.Rows, textureRow(env, fi, k, probe))
		}
	}
	r.Rows = append(r.Rows, bufferRow(env, probe))
	return r, nil
}

// textureRow is format fi as a resource of kind k. Each answer that is no
// ends the row with its reason: later questions presuppose the earlier
// ones (GL cannot import what Vulkan cannot export).
func textureRow(env *gpuenv.Env, fi bridge.FormatInfo, k formatKind, probe bool) formatRow {
	d := k.desc(fi.Format)
	row := formatRow{Format: fi.Name, Kind: k.name, Desc: d.String(), GLCheck: glCheck(probe)}
	if err := d.Validate(); err != nil {
		row.Reason = "not a Direct3D resource: " + err.Error()
		return row
	}
	sup, err := vkalloc.QuerySupport(env.Dev, d)
	if err != nil {
		row.Reason = err.Error()
		return row
	}
	row.VkFormat = sup.Storage.VkFormat
	row.Exportable, row.Importable, row.DedicatedOnly = sup.Exportable, sup.Importable, sup.DedicatedOnly
	row.Renderable, row.Sampleable = sup.Renderable, sup.Sampleable
	if d.SampleCount&sup.SampleCounts == 0 {
		row.Exportable = false
		row.Reason = fmt.Sprintf("%d samples not among the device's counts %#x", d.SampleCount, sup.SampleCounts)
		return row
	}
	if err := glimport.CheckTexture(bridge.Allocation{Desc: d, VkFormat: sup.Storage.VkFormat}); err != nil {
		row.Reason = err.Error()
		return row
	}
	row.GLImportable, row.Reason = glImportable(probe, func() error { return probeTexture(env, d) })
	return row
}

// bufferRow is the one row for buffers, which have no format. Exportable
// and importable come from doing it, a 4096-byte buffer exported and
// imported again on the helper device: that answers for the driver, where
// vkalloc.QueryBufferSupport answers for what it claims.
func bufferRow(env *gpuenv.Env, probe bool) formatRow {
	d := bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}
	row := formatRow{Format: "UNKNOWN", Kind: "buffer", Desc: d.String(), GLCheck: glCheck(probe)}
	b, err := vkalloc.NewBuffer(env.Dev, d)
	if err != nil {
		row.Reason = err.Error()
		return row
	}
	defer b.Close()
	row.Exportable = true
	fd, err := b.ExportFD()
	if err != nil {
		row.Reason = err.Error()
		return row
	}
	defer unix.Close(fd)
	dup, err := fdutil.Dup(fd)
	if err != nil {
		row.Reason = err.Error()
		return row
	}
	ib, err := vkalloc.ImportBuffer(env.Dev, b.Allocation(), dup)
	if err != nil {
		unix.Close(dup) // a failed import leaves the fd the caller's
		row.Reason = err.Error()
		return row
	}
	ib.Close()
	row.Importable = true
	row.GLImportable, row.Reason = glImportable(probe, func() error {
		return importInto(env, b.Allocation(), fd, func(m *glimport.Memory, a bridge.Allocation) (io.Closer, error) {
			gb, err := m.Buffer(a)
			return gb, err
		})
	})
	return row
}

// glImportable is the GL column of a row whose Vulkan side can share, and
// the reason when it is no. By the table, GL imports what its rules allow
// (gpuenv.NewEnv has already refused a GL without memory objects); the
// probe runs try, which asks GL itself, since no query says whether a
// driver really takes the memory.
func glImportable(probe bool, try func() error) (bool, string) {
	if !probe {
		return true, ""
	}
	if err := try(); err != nil {
		return false, "probe: " + err.Error()
	}
	return true, ""
}

// probeTexture allocates d on the helper device and makes a GL texture of
// it: the honest answer to "can GL import this".
func probeTexture(env *gpuenv.Env, d bridge.Desc) error {
	img, err := vkalloc.NewImage(env.Dev, d)
	if err != nil {
		return err
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return importInto(env, img.Allocation(), fd, func(m *glimport.Memory, a bridge.Allocation) (io.Closer, error) {
		t, err := m.Texture(a)
		return t, err
	})
}

// importInto imports fd, the memory of a, into GL and makes of it what
// view makes (a texture, a buffer), then frees both. ImportMemory imports
// a duplicate: fd stays the caller's.
func importInto(env *gpuenv.Env, a bridge.Allocation, fd int, view func(*glimport.Memory, bridge.Allocation) (io.Closer, error)) (err error) {
	env.GL.Call(func() {
		var m *glimport.Memory
		if m, err = glimport.ImportMemory(a, fd); err != nil {
			return
		}
		defer m.Close()
		var v io.Closer
		if v, err = view(m, a); err == nil {
			v.Close()
		}
	})
	return err
}

// runFormats is glshare info --formats: the table as text, or with asJSON
// as one JSON object.
func runFormats(w io.Writer, platform string, asJSON, probe bool) error {
	r, err := gatherFormats(platform, probe)
	if err != nil {
		return err
	}
	return printReport(w, asJSON, r, func(w io.Writer) { printFormats(w, r) })
}

func printFormats(w io.Writer, r *formatsReport) {
	fmt.Fprintf(w, "GL %s, Vulkan %s; GL column by %s\n", r.GLRenderer, r.VKDevice, glCheck(r.Probed))
	fmt.Fprintf(w, "%-22s %-9s %4s %-6s %-6s %-9s %-3s %-6s %-6s %s\n", "FORMAT", "KIND", "VK", "EXPORT", "IMPORT", "DEDICATED", "GL", "RENDER", "SAMPLE", "WHY NOT")
	shareable := 0
	for _, row := range r.Rows {
		if row.Exportable && row.GLImportable {
			shareable++
		}
		fmt.Fprintf(w, "%-22s %-9s %4d %-6s %-6s %-9s %-3s %-6s %-6s %s\n", row.Format, row.Kind, row.VkFormat,
			yesNo(row.Exportable), yesNo(row.Importable), yesNo(row.DedicatedOnly), yesNo(row.GLImportable),
			yesNo(row.Renderable), yesNo(row.Sampleable), shortReason(row.Reason))
	}
	fmt.Fprintf(w, "%d of %d format × kind combinations can be shared with GL\n", shareable, len(r.Rows))
}

// shortReason drops the package prefixes and sentinel text that make the
// JSON reasons self-contained but the table unreadable.
func shortReason(s string) string {
	for _, p := range []string{"vkalloc: ", "glimport: ", "bridge: ", "unsupported format: ", "invalid Desc: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// errFormatsFlags is returned when --probe is given without --formats.
var errFormatsFlags = errors.New("--probe needs --formats")
