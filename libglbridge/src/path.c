/* The default socket path, as the Go client's broker.DefaultSocketPath. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clean_path cleans p in place as Go's path/filepath.Clean does for
   absolute and relative Unix paths. */
static void clean_path(char *p)
{
    size_t n = strlen(p), r = 0, w = 0, dotdot = 0;
    int rooted = n > 0 && p[0] == '/';
    char *out = p; /* w <= r always: in place */

    if (n == 0) {
        strcpy(p, ".");
        return;
    }
    if (rooted) {
        out[w++] = '/';
        r = 1;
        dotdot = 1;
    }
    while (r < n) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            for (; r < n && p[r] != '/'; r++)
                out[w++] = p[r];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
}

glbridge_status glbridge_default_socket_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *tmp;
    int n;

    if (!buf || len == 0)
        return GLBRIDGE_E_ARGUMENT;
    if (xdg && xdg[0]) {
        n = snprintf(buf, len, "%s/glbridge/broker.sock", xdg);
    } else {
        tmp = getenv("TMPDIR");
        if (!tmp || !tmp[0])
            tmp = "/tmp";
        n = snprintf(buf, len, "%s/glbridge-%lu/broker.sock", tmp, (unsigned long)getuid());
    }
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return GLBRIDGE_E_ARGUMENT;
    }
    clean_path(buf);
    return GLBRIDGE_OK;
}
