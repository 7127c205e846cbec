/* `certgate pki init|issue|revoke|ldif`: a demo/test PKI written against the
 * GnuTLS API (no certtool, no openssl). */
#ifndef PKI_TOOL_H
#define PKI_TOOL_H

/* argv[0] is "pki". Returns the process exit code (0 ok, 1 error, 2 usage). */
int pki_tool_main(int argc, char **argv);

#endif
