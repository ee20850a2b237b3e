package vkalloc

import (
	"fmt"

	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/internal/vkdevice"
)

// binding returns the binding objects behind dev, or an error wrapping
// bridge.ErrClosed after dev's Close.
func binding(dev *helperdev.Device) (vk.Device, vk.PhysicalDevice, error) {
	c := vkdevice.Of(dev)
	if err := c.Live(); err != nil {
		return vk.Device{}, vk.PhysicalDevice{}, fmt.Errorf("vkalloc: %w", err)
	}
	return c.Dev, c.Physical, nil
}
