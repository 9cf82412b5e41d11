// libjpeg(-turbo) with error handling that returns instead of exiting: libjpeg's default
// error_exit calls exit(), and recovering needs setjmp/longjmp, which Swift cannot call, so
// the whole decode and encode live here as static inline functions (a system-library
// target holds headers only).
#ifndef COHORT_CJPEG_SHIM_H
#define COHORT_CJPEG_SHIM_H
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

/// An error manager whose error_exit jumps back to the caller with the message kept and
/// whose warnings (corrupt or truncated data) are recorded, so they can be refused.
struct cohort_jpeg_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int warned;
    char message[JMSG_LENGTH_MAX];
};

static inline void cohort_jpeg_error_exit(j_common_ptr cinfo) {
    struct cohort_jpeg_error *err = (struct cohort_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

static inline void cohort_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct cohort_jpeg_error *err = (struct cohort_jpeg_error *)cinfo->err;
    if (level < 0 && !err->warned) {   // a warning: keep the first one
        err->warned = 1;
        (*cinfo->err->format_message)(cinfo, err->message);
    }
}

/// Reads the header of the JPEG in `data` and stores its width and height.
/// Returns 0 on success, else 1 with a message in `message` (at least JMSG_LENGTH_MAX bytes).
static inline int cohort_jpeg_dimensions(const unsigned char *data, unsigned long size,
                                         unsigned *width, unsigned *height, char *message) {
    struct jpeg_decompress_struct cinfo;
    struct cohort_jpeg_error err;
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = cohort_jpeg_error_exit;
    err.pub.emit_message = cohort_jpeg_emit_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)data, size);
    jpeg_read_header(&cinfo, TRUE);
    *width = cinfo.image_width;
    *height = cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/// Decodes the JPEG in `data` to 8-bit grey (`grey` != 0) or RGB pixels, row-major, into
/// `out`, which holds `capacity` bytes. The image must be `width` × `height` (as
/// `cohort_jpeg_dimensions` found). A warning (corrupt or truncated data) is an error.
/// Returns 0 on success, else 1 with a message in `message` (at least JMSG_LENGTH_MAX bytes).
static inline int cohort_jpeg_decode(const unsigned char *data, unsigned long size, int grey,
                                     unsigned width, unsigned height,
                                     unsigned char *out, size_t capacity, char *message) {
    struct jpeg_decompress_struct cinfo;
    struct cohort_jpeg_error err;
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = cohort_jpeg_error_exit;
    err.pub.emit_message = cohort_jpeg_emit_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)data, size);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    if (cinfo.output_width != width || cinfo.output_height != height ||
        cinfo.output_components != (grey ? 1 : 3) || stride * cinfo.output_height > capacity) {
        jpeg_destroy_decompress(&cinfo);
        strcpy(message, "decoded size differs from the header's");
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (err.warned) {
        jpeg_destroy_decompress(&cinfo);
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        return 1;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (err.warned) {
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        return 1;
    }
    return 0;
}

/// Encodes 8-bit grey (`channels` 1) or RGB (`channels` 3) pixels as a baseline JPEG of the
/// given quality (1–100). On success returns 0 and a malloc'ed buffer in `*out` (free it with
/// `free`) of `*outSize` bytes; else 1 with a message.
static inline int cohort_jpeg_encode(const unsigned char *pixels, unsigned width, unsigned height, int channels,
                                     int quality, unsigned char **out, unsigned long *outSize, char *message) {
    struct jpeg_compress_struct cinfo;
    struct cohort_jpeg_error err;
    memset(&err, 0, sizeof err);
    *out = NULL;
    *outSize = 0;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = cohort_jpeg_error_exit;
    err.pub.emit_message = cohort_jpeg_emit_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        if (*out) { free(*out); *out = NULL; }
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, out, outSize);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}
#endif
