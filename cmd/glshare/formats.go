package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
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

// gatherFormats asks the helper device matched to the GL context on
// platform about every format × kind, and GL about the ones it can share:
// by the table, or with probe by importing a real allocation of each.
func gatherFormats(platform string, probe bool) (*formatsReport, error) {
	ctx, err := headless.New(headless.Options{Platform: platform})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	var id glimport.Identity
	ctx.Call(func() {
		if err = glimport.Init(ctx.ProcAddr); err == nil {
			id, err = glimport.QueryIdentity()
		}
	})
	if err != nil {
		return nil, err
	}
	dev, err := gpuenv.OpenHelper(id)
	if err != nil {
		return nil, fmt.Errorf("no Vulkan device to share with GL %q: %w", id.Renderer, err)
	}
	defer dev.Close()
	r := &formatsReport{GLRenderer: id.Renderer, VKDevice: dev.Caps().DeviceName, Probed: probe}
	check := "table"
	if probe {
		check = "probe"
	}
	for _, fi := range bridge.Formats() {
		for _, k := range formatKinds {
			d := k.desc(fi.Format)
			row := formatRow{Format: fi.Name, Kind: k.name, Desc: d.String(), GLCheck: check}
			if err := d.Validate(); err != nil {
				row.Reason = "not a Direct3D resource: " + err.Error()
				r.Rows = append(r.Rows, row)
				continue
			}
			sup, err := vkalloc.QuerySupport(dev, d)
			if err != nil {
				row.Reason = err.Error()
				r.Rows = append(r.Rows, row)
				continue
			}
			row.VkFormat = sup.Storage.VkFormat
			row.Exportable, row.Importable, row.DedicatedOnly = sup.Exportable, sup.Importable, sup.DedicatedOnly
			row.Renderable, row.Sampleable = sup.Renderable, sup.Sampleable
			if d.SampleCount&sup.SampleCounts == 0 {
				row.Exportable = false
				row.Reason = fmt.Sprintf("%d samples not among the device's counts %#x", d.SampleCount, sup.SampleCounts)
				r.Rows = append(r.Rows, row)
				continue
			}
			a := bridge.Allocation{Desc: d, VkFormat: sup.Storage.VkFormat}
			if err := glimport.CheckTexture(a); err != nil {
				row.Reason = err.Error()
			} else if !id.MemoryObjectFD {
				row.Reason = "the GL context lacks GL_EXT_memory_object_fd"
			} else if !probe {
				row.GLImportable = true
			} else if err := probeTexture(ctx, dev, d); err != nil {
				row.Reason = "probe: " + err.Error()
			} else {
				row.GLImportable = true
			}
			r.Rows = append(r.Rows, row)
		}
	}
	r.Rows = append(r.Rows, bufferRow(ctx, dev, id.MemoryObjectFD, probe))
	return r, nil
}

// probeTexture allocates d on the helper device, imports it into GL and
// makes a texture of it: the honest answer to "can GL import this".
func probeTexture(ctx *headless.Context, dev *helperdev.Device, d bridge.Desc) error {
	img, err := vkalloc.NewImage(dev, d)
	if err != nil {
		return err
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd) // ImportMemory imports a duplicate
	ctx.Call(func() {
		var m *glimport.Memory
		if m, err = glimport.ImportMemory(img.Allocation(), fd); err != nil {
			return
		}
		defer m.Close()
		var t *glimport.Texture
		if t, err = m.Texture(img.Allocation()); err == nil {
			t.Close()
		}
	})
	return err
}

// bufferRow is the one row for buffers, which have no format. vkalloc has
// no buffer query, so exportable and importable come from doing it: a
// 4096-byte buffer is exported and imported again on the helper device.
// GL by the table can import any buffer where it has memory objects; the
// probe imports the buffer and views it.
func bufferRow(ctx *headless.Context, dev *helperdev.Device, memoryFD, probe bool) formatRow {
	d := bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}
	row := formatRow{Format: "UNKNOWN", Kind: "buffer", Desc: d.String(), GLCheck: "table"}
	if probe {
		row.GLCheck = "probe"
	}
	b, err := vkalloc.NewBuffer(dev, d)
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
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		row.Reason = err.Error()
		return row
	}
	ib, err := vkalloc.ImportBuffer(dev, b.Allocation(), dup)
	if err != nil {
		unix.Close(dup) // a failed import leaves the fd the caller's
		row.Reason = err.Error()
		return row
	}
	ib.Close()
	row.Importable = true
	switch {
	case !memoryFD:
		row.Reason = "the GL context lacks GL_EXT_memory_object_fd"
	case !probe:
		row.GLImportable = true
	default:
		ctx.Call(func() {
			var m *glimport.Memory
			if m, err = glimport.ImportMemory(b.Allocation(), fd); err != nil {
				return
			}
			defer m.Close()
			var gb *glimport.Buffer
			if gb, err = m.Buffer(b.Allocation()); err == nil {
				gb.Close()
			}
		})
		if err != nil {
			row.Reason = "probe: " + err.Error()
		} else {
			row.GLImportable = true
		}
	}
	return row
}

// runFormats is glshare info --formats: the table as text, or with asJSON
// as one JSON object.
func runFormats(w io.Writer, platform string, asJSON, probe bool) error {
	r, err := gatherFormats(platform, probe)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printFormats(w, r)
	return nil
}

func printFormats(w io.Writer, r *formatsReport) {
	check := "table"
	if r.Probed {
		check = "probe"
	}
	fmt.Fprintf(w, "GL %s, Vulkan %s; GL column by %s\n", r.GLRenderer, r.VKDevice, check)
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
