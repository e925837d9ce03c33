/* hello: greets its argument (default "world") and says which version it is. */
#include <stdio.h>

#include "greet.h"

int main(int argc, char** argv) {
  char line[256];
  greet(line, sizeof line, argc > 1 ? argv[1] : "world");
  printf("%s (version %s)\n", line, VERSION);
  return 0;
}
