package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/share"
)

func init() {
	register(command{name: "info", summary: "report what this machine's GL and Vulkan can share", run: runInfo})
}

// infoReport is what glshare info prints; its JSON field names are a
// stable interface for scripts.
type infoReport struct {
	GLPlatform        string `json:"gl_platform"`
	GLVendor          string `json:"gl_vendor"`
	GLRenderer        string `json:"gl_renderer"`
	GLVersion         string `json:"gl_version"`
	GLDriverUUID      string `json:"gl_driver_uuid"`
	GLDeviceUUID      string `json:"gl_device_uuid"`
	VKDevice          string `json:"vk_device"`
	VKDriver          string `json:"vk_driver"`
	VKAPIVersion      string `json:"vk_api_version"`
	VKDriverUUID      string `json:"vk_driver_uuid"`
	VKDeviceUUID      string `json:"vk_device_uuid"`
	UUIDMatch         bool   `json:"uuid_match"`
	MemoryFD          bool   `json:"memory_fd"`
	SemaphoreFD       bool   `json:"semaphore_fd"`
	TimelineSemaphore bool   `json:"timeline_semaphore"`
	// SyncPath is how GL and Vulkan hand images over (handoff.BestPath):
	// "timeline semaphore" or "binary semaphores" where both sides share
	// semaphores as fds, "fallback (fences)" elsewhere, "none" without a
	// Vulkan device.
	SyncPath   string          `json:"sync_path"`
	Extensions map[string]bool `json:"extensions"`
	VKDevices  []vkDeviceInfo  `json:"vk_devices"`
	// Problem says why zero-copy sharing is impossible, when it is.
	Problem string `json:"problem,omitempty"`

	// SharePath is how this GL shares the resources it creates
	// (share.NewGL): "zero-copy", "copy (Vulkan memory)" or "copy (host
	// memory)"; ShareReason says why it is not zero-copy.
	SharePath   string `json:"share_path"`
	ShareReason string `json:"share_reason,omitempty"`

	serviceInfo
}

// serviceInfo is whether the broker at ServiceSocket can allocate for this
// GL (ALLOCATE, which share's service mode uses): ServiceAllocation is the
// text report's verdict, "yes (<device>, zero-copy)", "yes (host memory,
// copy path)", "no: <error>" or "no broker at <socket>"; ServiceAllocates
// the yes; ServiceDevice the broker's device (or "host memory") and
// ServicePath "zero-copy" or "copy" when it does; ServiceError why not.
type serviceInfo struct {
	ServiceSocket     string `json:"service_socket"`
	ServiceAllocation string `json:"service_allocation"`
	ServiceAllocates  bool   `json:"service_allocates"`
	ServiceDevice     string `json:"service_device,omitempty"`
	ServicePath       string `json:"service_path,omitempty"`
	ServiceError      string `json:"service_error,omitempty"`
}

// serviceTimeout bounds each broker call of the service check, so that a
// broker that accepts and never answers cannot hang info. The first
// ALLOCATE opens the broker's Vulkan device, which takes a second or two.
const serviceTimeout = 30 * time.Second

// checkService asks the broker at socket to allocate what a GL of identity
// id would have it allocate in service mode, a 1x1 R8G8B8A8 texture: on
// the helper device of GL's UUIDs where GL imports memory
// (GL_EXT_memory_object_fd), else in host memory. It imports the Vulkan
// memory into GL on ctx, as share does, so that "zero-copy" is what this
// GL got, then frees the allocation.
func checkService(ctx *headless.Context, id glimport.Identity, socket string) serviceInfo {
	s := serviceInfo{ServiceSocket: socket}
	no := func(err error) serviceInfo {
		s.ServiceAllocation, s.ServiceError = "no: "+err.Error(), err.Error()
		return s
	}
	c, err := broker.Dial(socket)
	if err != nil {
		s.ServiceAllocation, s.ServiceError = "no broker at "+socket, err.Error()
		return s
	}
	defer c.Close()
	req := broker.AllocateRequest{Desc: bridge.Texture2D(1, 1, bridge.FormatR8G8B8A8Unorm), Device: id.Device}
	if !id.MemoryObjectFD {
		req = broker.AllocateRequest{Desc: req.Desc, HostMemory: true}
	}
	var res broker.Resource
	if err := withTimeout(c, "ALLOCATE", func() (err error) { res, err = c.Allocate(req); return err }); err != nil {
		return no(err)
	}
	defer c.CloseHandle(res.Handle)
	defer unix.Close(res.FD)
	for _, sy := range res.Syncs {
		defer unix.Close(sy.FD)
	}
	var list []broker.ResourceInfo
	if err := withTimeout(c, "LIST", func() (err error) { list, err = c.List(); return err }); err != nil {
		return no(err)
	}
	for _, l := range list {
		if l.KMT == res.KMT {
			s.ServiceDevice = l.AllocatedOn
		}
	}
	if s.ServiceDevice == "" {
		return no(fmt.Errorf("the broker allocated %v but does not list it as its allocation", res.KMT))
	}
	if req.HostMemory {
		s.ServiceAllocates, s.ServicePath = true, "copy"
		s.ServiceAllocation = "yes (" + s.ServiceDevice + ", copy path)"
		return s
	}
	ctx.Call(func() {
		var mem *glimport.Memory
		if mem, err = glimport.ImportMemory(res.Allocation, res.FD); err != nil {
			return
		}
		defer mem.Close()
		var tex *glimport.Texture
		if tex, err = mem.Texture(res.Allocation); err == nil {
			tex.Close()
		}
	})
	if err != nil {
		return no(fmt.Errorf("the broker allocated on %s, but GL cannot import it: %w", s.ServiceDevice, err))
	}
	s.ServiceAllocates, s.ServicePath = true, "zero-copy"
	s.ServiceAllocation = "yes (" + s.ServiceDevice + ", zero-copy)"
	return s
}

// withTimeout runs call, a request on c, and gives up on it after
// serviceTimeout by closing c, which fails it.
func withTimeout(c *broker.Client, what string, call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(serviceTimeout):
		c.Close()
		<-done
		return fmt.Errorf("the broker did not answer %s within %v", what, serviceTimeout)
	}
}

type vkDeviceInfo struct {
	Name       string `json:"name"`
	Driver     string `json:"driver"`
	APIVersion string `json:"api_version"`
	DriverUUID string `json:"driver_uuid"`
	DeviceUUID string `json:"device_uuid"`
}

// The extensions info reports, GL's then Vulkan's.
var infoGLExtensions = []string{"GL_EXT_memory_object", "GL_EXT_memory_object_fd", "GL_EXT_semaphore", "GL_EXT_semaphore_fd", "GL_NV_timeline_semaphore"}
var infoVKExtensions = []string{"VK_KHR_external_memory_fd", "VK_KHR_external_semaphore_fd", "VK_KHR_timeline_semaphore"}

func runInfo(args []string) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	platform := fs.String("platform", "", "EGL platform: device or surfaceless (default: the first that works)")
	formats := fs.Bool("formats", false, "print what can be shared per format and kind of resource (formats.go)")
	probe := fs.Bool("probe", false, "with --formats: decide GL-importable by importing a small allocation of each")
	socket := fs.String("socket", broker.DefaultSocketPath(), "the broker whose allocation for this GL is checked (service allocation)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *formats {
		return runFormats(os.Stdout, *platform, *asJSON, *probe)
	}
	if *probe {
		return errFormatsFlags
	}
	r, err := gatherInfo(*platform, *socket)
	if err != nil {
		return err
	}
	return printReport(os.Stdout, *asJSON, r, func(w io.Writer) { printInfo(w, r) })
}

// gatherInfo opens GL on platform and asks it, and every Vulkan device,
// what they can share, and the broker at socket whether it can allocate
// for this GL. It opens GL by itself rather than with
// gpuenv.NewEnv, which fails without a matching helper device: info must
// report on exactly the machines where that fails, and say why (Problem).
func gatherInfo(platform, socket string) (*infoReport, error) {
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
	r := &infoReport{
		GLPlatform: ctx.Platform(), GLVendor: id.Vendor, GLRenderer: id.Renderer, GLVersion: id.Version,
		GLDriverUUID: id.Device.Driver.String(), GLDeviceUUID: id.Device.Device.String(),
		Extensions: map[string]bool{},
	}
	for _, e := range infoGLExtensions {
		r.Extensions[e] = id.Has(e)
	}
	for _, e := range infoVKExtensions {
		r.Extensions[e] = false
	}
	ctx.Call(func() {
		g, err := share.NewGL(ctx.ProcAddr, share.Options{})
		if err != nil {
			r.SharePath, r.ShareReason = "none", err.Error()
			return
		}
		r.SharePath, r.ShareReason = g.Path().String(), g.Reason()
		g.Close()
	})
	r.serviceInfo = checkService(ctx, id, socket)
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil {
		r.Problem = err.Error()
		r.SyncPath = "none"
		return r, nil
	}
	for _, d := range devs {
		r.VKDevices = append(r.VKDevices, vkDeviceInfo{d.Name, d.DriverName, d.APIVersion, d.Device.Driver.String(), d.Device.Device.String()})
		if d.Device == id.Device && !r.UUIDMatch {
			r.UUIDMatch = true
			r.VKDevice, r.VKDriver, r.VKAPIVersion = d.Name, d.DriverName, d.APIVersion
			r.VKDriverUUID, r.VKDeviceUUID = d.Device.Driver.String(), d.Device.Device.String()
			for _, e := range infoVKExtensions {
				r.Extensions[e] = slices.Contains(d.Extensions, e)
			}
		}
	}
	r.SyncPath = handoff.PathFallback.String()
	dev, err := gpuenv.OpenHelper(id)
	if err != nil {
		r.Problem = err.Error()
	} else {
		caps := dev.Caps()
		dev.Close()
		r.MemoryFD = true
		r.SemaphoreFD = id.SemaphoreFD && caps.ExternalSemaphoreFD
		r.TimelineSemaphore = id.TimelineSemaphore && caps.TimelineSemaphoreFD
		r.SyncPath = handoff.BestPath(id, caps).String()
	}
	if os.Getenv(handoff.ForceFallbackEnv) == "1" {
		r.SyncPath = handoff.PathFallback.String() + ", forced by " + handoff.ForceFallbackEnv
	}
	return r, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printInfo(w io.Writer, r *infoReport) {
	fmt.Fprintf(w, "GL:       %s (%s; EGL %s)\n", r.GLRenderer, r.GLVersion, r.GLPlatform)
	fmt.Fprintf(w, "          vendor %s\n", r.GLVendor)
	fmt.Fprintf(w, "          driver UUID %s  device UUID %s\n", r.GLDriverUUID, r.GLDeviceUUID)
	if r.UUIDMatch {
		fmt.Fprintf(w, "Vulkan:   %s (%s, Vulkan %s)\n", r.VKDevice, r.VKDriver, r.VKAPIVersion)
		fmt.Fprintf(w, "          driver UUID %s  device UUID %s\n", r.VKDriverUUID, r.VKDeviceUUID)
	} else {
		fmt.Fprintf(w, "Vulkan:   no device with GL's UUIDs; devices:\n")
		for _, d := range r.VKDevices {
			fmt.Fprintf(w, "          %s (%s): driver UUID %s  device UUID %s\n", d.Name, d.Driver, d.DriverUUID, d.DeviceUUID)
		}
	}
	fmt.Fprintf(w, "UUIDs match:        %s\n", yesNo(r.UUIDMatch))
	fmt.Fprintf(w, "zero-copy memory:   %s\n", yesNo(r.MemoryFD))
	fmt.Fprintf(w, "semaphore fds:      %s\n", yesNo(r.SemaphoreFD))
	fmt.Fprintf(w, "timeline semaphore: %s\n", yesNo(r.TimelineSemaphore))
	fmt.Fprintf(w, "sync path:          %s\n", r.SyncPath)
	fmt.Fprintf(w, "share path:         %s\n", r.SharePath)
	if r.ShareReason != "" {
		fmt.Fprintf(w, "                    because %s\n", strings.TrimSpace(r.ShareReason))
	}
	fmt.Fprintf(w, "service allocation: %s\n", r.ServiceAllocation)
	fmt.Fprintf(w, "extensions:\n")
	for _, e := range append(slices.Clone(infoGLExtensions), infoVKExtensions...) {
		fmt.Fprintf(w, "  %-30s %s\n", e, yesNo(r.Extensions[e]))
	}
	if r.Problem != "" {
		fmt.Fprintf(w, "problem: %s\n", strings.TrimSpace(r.Problem))
	}
}
