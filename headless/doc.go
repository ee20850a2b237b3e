// Package headless creates headless OpenGL contexts, for glbridge's tools,
// its tests and users' own tests and tools. The glbridge library itself never creates a context: it works on
// the caller's current one through a proc-address function. Here a context
// is made without a window system, on the EGL device platform
// (EGL_EXT_platform_device) when the driver offers it and on Mesa's
// surfaceless platform otherwise, so it works on a machine with no display
// and, with llvmpipe, with no GPU.
//
// A GL context is current on one thread at a time and GL calls go to the
// calling thread's current context, so each Context owns one locked OS
// thread for its whole life and runs GL work there through Call. Several
// Contexts in one process are independent, each on its own thread; tests
// use two of them to stand for two devices.
//
// The contexts are compatibility-profile contexts because wined3d, which
// glbridge serves, creates legacy contexts: glbridge must work in the same
// kind of context.
package headless
