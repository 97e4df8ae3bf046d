/* SPDX-License-Identifier: MIT */
/* `pdns-failover zone ...` and `pdns-failover fmt ...`: the store-editing commands (see cli.c).
 * Each takes its own argv (argv[0] is the command word) and returns the exit status. */
#pragma once

int cli_zone_main(int argc, char **argv);
int cli_fmt_main(int argc, char **argv);
