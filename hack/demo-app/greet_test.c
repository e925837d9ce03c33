/* The tests of greet(): each case prints PASS or FAIL; the exit code is the number of failures. */
#include "greet.h"

#include <stdio.h>
#include <string.h>

static int check(const char* name, size_t size, const char* want) {
  char got[256];
  greet(got, size, name);
  if (strcmp(got, want) != 0) {
    printf("FAIL: greet(\"%s\", %zu) = \"%s\", want \"%s\"\n", name, size, got, want);
    return 1;
  }
  printf("PASS: greet(\"%s\", %zu) = \"%s\"\n", name, size, want);
  return 0;
}

int main(void) {
  int failures = 0;
  failures += check("world", 256, "hello, world");
  failures += check("flywheel", 256, "hello, flywheel");
  failures += check("world", 6, "hello"); /* cut to the buffer, still terminated */
  return failures;
}
