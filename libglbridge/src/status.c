/* glbridge_strerror. */
#include "internal.h"

const char *glbridge_strerror(glbridge_status st)
{
    switch (st) {
    case GLBRIDGE_OK: return "success";
    case GLBRIDGE_E_BAD_MESSAGE: return "malformed request (BAD_MESSAGE)";
    case GLBRIDGE_E_BAD_VERSION: return "unsupported protocol version (BAD_VERSION)";
    case GLBRIDGE_E_UNKNOWN_TYPE: return "unknown message type (UNKNOWN_TYPE)";
    case GLBRIDGE_E_TOO_LARGE: return "message or private data too large (TOO_LARGE)";
    case GLBRIDGE_E_BAD_FDS: return "wrong file descriptors (BAD_FDS)";
    case GLBRIDGE_E_BAD_HANDLE: return "not a handle (BAD_HANDLE)";
    case GLBRIDGE_E_NOT_FOUND: return "no such resource, handle or name (NOT_FOUND)";
    case GLBRIDGE_E_ACCESS_DENIED: return "access denied (ACCESS_DENIED)";
    case GLBRIDGE_E_NAME_TAKEN: return "name already in use (NAME_TAKEN)";
    case GLBRIDGE_E_BAD_NAME: return "invalid name (BAD_NAME)";
    case GLBRIDGE_E_LIMIT: return "broker limit reached (LIMIT)";
    case GLBRIDGE_E_UNSUPPORTED: return "unsupported (UNSUPPORTED)";
    case GLBRIDGE_E_INVALID: return "invalid argument (INVALID)";
    case GLBRIDGE_E_INTERNAL: return "broker internal error (INTERNAL)";
    case GLBRIDGE_E_TIMEOUT: return "timed out (TIMEOUT)";
    case GLBRIDGE_E_QUOTA: return "quota exceeded (QUOTA)";
    case GLBRIDGE_E_NO_DEVICE: return "no Vulkan device of those UUIDs (NO_DEVICE)";
    case GLBRIDGE_E_UNSUPPORTED_FORMAT: return "the device cannot make this resource (UNSUPPORTED_FORMAT)";
    case GLBRIDGE_E_INVALID_DESC: return "invalid resource description (INVALID_DESC)";
    case GLBRIDGE_E_NO_SEMAPHORE: return "the device cannot export such semaphores (NO_SEMAPHORE)";
    case GLBRIDGE_E_RESTORE_REFUSED: return "the broker did not take the resource back (RESTORE_REFUSED)";
    case GLBRIDGE_E_WRONG_TYPE: return "wrong object type: a fence where a resource is wanted, or the reverse (WRONG_TYPE)";
    case GLBRIDGE_E_IO: return "I/O error on the broker socket";
    case GLBRIDGE_E_CLOSED: return "the broker closed the connection";
    case GLBRIDGE_E_PROTOCOL: return "malformed reply from the broker";
    case GLBRIDGE_E_ARGUMENT: return "invalid argument to libglbridge";
    case GLBRIDGE_E_NO_MEMORY: return "out of memory";
    case GLBRIDGE_E_CONNECT: return "cannot connect to the broker";
    case GLBRIDGE_E_FATAL: return "the broker sent FATAL and hung up";
    case GLBRIDGE_E_GL: return "a GL call failed";
    case GLBRIDGE_E_GL_UNSUPPORTED: return "the GL context lacks the extension or entry point";
    }
    return "unknown glbridge status";
}
