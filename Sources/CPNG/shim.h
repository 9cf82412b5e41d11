// libpng's simplified API (png_image_*), which reports errors through png_image.message
// instead of longjmp, so it is called from Swift directly.
#include <png.h>
