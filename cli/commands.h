/* commands.h - one function per `qrank` subcommand, each in its own file
 * (cli/cmd_<name>.c; `serve` lives in server/). Each takes the arguments after
 * the command name (argv[0] is the command) and returns the exit status. */
#ifndef QRANK_COMMANDS_H
#define QRANK_COMMANDS_H

int cmd_rerank(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
