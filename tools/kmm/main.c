/* Placeholder until the kmm tool lands. */
#include <stdio.h>
int main(void)
{
	puts("kmm: not built yet");
	return 1;
}
