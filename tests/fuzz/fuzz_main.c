/* SPDX-License-Identifier: MIT */
/* Replay driver for the fuzz targets when they are not linked with libFuzzer (after systemd's
 * fuzz-main.c and Knot's tests-fuzz/main.c): runs every file named on the command line, and every
 * file in each directory named there (sorted, hidden files skipped, not recursive), through
 * LLVMFuzzerTestOneInput(). With no arguments, runs standard input once. A crash or an invariant
 * violation aborts; otherwise prints how many inputs ran and exits 0 (1 if a path was
 * unreadable). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the whole stream into an exactly sized heap block, so that ASan sees over-reads. */
static int read_all(FILE *f, uint8_t **ret_data, size_t *ret_size)
{
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return -EIO;
    }
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -ENOMEM;
    }
    memcpy(exact, buf, len);
    free(buf);
    *ret_data = exact;
    *ret_size = len;
    return 0;
}

static int run_file(const char *path, unsigned long *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_main: cannot open '%s' (%s)\n", path, strerror(errno));
        return -1;
    }
    uint8_t *data = NULL;
    size_t size = 0;
    int r = read_all(f, &data, &size);
    fclose(f);
    if (r < 0) {
        fprintf(stderr, "fuzz_main: cannot read '%s' (%s)\n", path, strerror(-r));
        return -1;
    }
    if (getenv("FUZZ_MAIN_VERBOSE"))
        fprintf(stderr, "fuzz_main: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    (*count)++;
    return 0;
}

static int hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static int run_path(const char *path, unsigned long *count)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "fuzz_main: cannot stat '%s' (%s)\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, count);

    struct dirent **list = NULL;
    int n = scandir(path, &list, hidden, alphasort);
    if (n < 0) {
        fprintf(stderr, "fuzz_main: cannot list '%s' (%s)\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(list[i]->d_name) + 2;
        char *full = malloc(len);
        if (!full)
            abort();
        snprintf(full, len, "%s/%s", path, list[i]->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && run_file(full, count) < 0)
            rc = -1;
        free(full);
        free(list[i]);
    }
    free(list);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long count = 0;
    int rc = 0;

    if (argc < 2) {
        uint8_t *data = NULL;
        size_t size = 0;
        if (read_all(stdin, &data, &size) < 0) {
            fprintf(stderr, "fuzz_main: cannot read standard input\n");
            return 1;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        count++;
    }
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count) < 0)
            rc = 1;
    printf("%s: %lu inputs ran\n", argv[0], count);
    return rc;
}
