package share_test

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

// TestVulkanOnCallerDevice: a renderer with a Vulkan device of its own (the
// DXVK role, here a device this test makes itself) opens a resource
// another Vulkan shares, through share.NewVulkanOn, reads every texel, and
// keeps its device when share lets go of it.
func TestVulkanOnCallerDevice(t *testing.T) {
	producer, err := share.NewVulkan(nil, share.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	const w, h = 67, 33
	res, err := producer.Create(desc2D(w, h, bridge.FormatR8G8B8A8Unorm))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	want := testpattern.Expected(w, h, 7)
	if err := res.Access(bridge.AccessReadWrite, func() error { return res.WritePixels(bridge.Subresource{}, want) }); err != nil {
		t.Fatal(err)
	}

	// The caller's own instance and device, on the producer's GPU.
	id := res.Allocation().Device
	inst, err := vk.CreateInstance("caller", vk.MakeVersion(1, 1, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer vk.DestroyInstance(inst)
	pds, err := inst.PhysicalDevices()
	if err != nil {
		t.Fatal(err)
	}
	var pd vk.PhysicalDevice
	for _, p := range pds {
		if pr := p.Properties(false); (bridge.DeviceID{Driver: pr.DriverUUID, Device: pr.DeviceUUID}) == id {
			pd = p
		}
	}
	if pd.Handle() == 0 {
		t.Fatalf("no physical device with %s", id)
	}
	exts := []string{vk.KHRExternalMemory, vk.KHRExternalMemoryFD}
	dev, err := vk.CreateDevice(pd, 0, exts, false)
	if err != nil {
		t.Fatal(err)
	}
	defer vk.DestroyDevice(dev)

	v, err := share.NewVulkanOn(bridge.VulkanHandles{
		Instance: inst.Handle(), PhysicalDevice: pd.Handle(), Device: dev.Handle(), Extensions: exts,
	}, share.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h := v.Handles(); h.Device != dev.Handle() {
		t.Fatalf("Handles().Device = %#x, not the caller's %#x", h.Device, dev.Handle())
	}
	fd, err := res.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	opened, err := v.Open(res.Allocation(), fd)
	unix.Close(fd) // Open keeps a dup
	if err != nil {
		t.Fatal(err)
	}
	if opened.Path() != share.ZeroCopy {
		t.Fatalf("path %v (%s), want zero-copy on the caller's device", opened.Path(), opened.Reason())
	}
	var got []byte
	err = opened.Access(bridge.AccessRead, func() (err error) {
		got, err = opened.ReadPixels(bridge.Subresource{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the caller's device read other texels than the producer wrote")
	}
	opened.Close()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dev.WaitIdle(); err != nil {
		t.Fatalf("the caller's device after share's Close: %v", err)
	}
}
