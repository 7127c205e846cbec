/* certgate: the command line (DESIGN.md §4). */
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"
#include "common/cg_log.h"
#include "pki/pki_tool.h"
#include "server/srv_audit.h"
#include "server/srv_check.h"
#include "server/srv_config.h"
#include "server/srv_serve.h"

static const char usage_text[] =
	"usage: certgate COMMAND [OPTIONS]\n"
	"\n"
	"  serve -c FILE [--pidfile FILE]        run in the foreground (systemd style)\n"
	"  check -c FILE [--json] CERT.pem       full decision for one certificate, no handshake;\n"
	"                                        exit 0 allowed, 1 denied, 2 error\n"
	"  config-test -c FILE                   validate the configuration and every file it names\n"
	"  audit-directory -c FILE [--json]      scan the directory before rollout: certificates several\n"
	"                                        entries or rules reach, or none; expired, revoked or\n"
	"                                        untrusted stored certificates; exit 0 clean, 1 findings\n"
	"  pki init DIR                          demo/test PKI: root CA, issuing CA, server certificate\n"
	"  pki issue DIR NAME [--uid U] [--email E] [--days N] [--key ecdsa|rsa]\n"
	"  pki revoke DIR NAME                   revoke NAME and regenerate DIR/crl.pem\n"
	"  pki ldif DIR NAME --dn DN             LDIF that adds NAME's certificate to entry DN\n"
	"  version                               print the version\n"
	"\n"
	"Signals (serve): SIGHUP reloads; SIGTERM/SIGINT stop after shutdown_grace; SIGUSR1 reopens\n"
	"the audit log. Configuration errors are reported as FILE:LINE: message.\n"
	"See certgate(8) and certgate.conf(5).\n";

static int usage(FILE *out, int code)
{
	fputs(usage_text, out);
	return code;
}

/* Parse "-c FILE [--pidfile FILE] [--json]" and one optional positional. */
struct cli {
	const char *config;
	const char *pidfile;
	const char *positional;
	bool json;
};

static int parse_cli(int argc, char **argv, struct cli *cli, bool allow_pidfile, bool allow_json,
		     bool want_positional)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cli->config = optarg; break;
		case 'p':
			if (!allow_pidfile)
				return -1;
			cli->pidfile = optarg;
			break;
		case 'j':
			if (!allow_json)
				return -1;
			cli->json = true;
			break;
		case 'h': return 1;
		default: return -1;
		}
	}
	if (cli->config == NULL) {
		fprintf(stderr, "certgate %s: -c FILE is required\n", argv[0]);
		return -1;
	}
	if (want_positional) {
		if (optind + 1 != argc)
			return -1;
		cli->positional = argv[optind];
	} else if (optind != argc) {
		return -1;
	}
	return 0;
}

static int cmd_config_test(const char *path)
{
	struct srv_config *c = NULL;
	struct cg_buf errors;
	cg_buf_init(&errors, 64 * 1024);
	enum cg_err r = srv_config_load(path, &c, &errors);
	if (r == CG_OK) {
		/* the files exist; now load them as serve would */
		srv_config_free(c);
		struct cg_buf e2;
		cg_buf_init(&e2, 64 * 1024);
		r = srv_check_load_runtime(path, &e2);
		if (r != CG_OK)
			fputs(e2.data ? e2.data : "", stderr);
		cg_buf_free(&e2);
	} else {
		fputs(errors.data ? errors.data : "", stderr);
	}
	cg_buf_free(&errors);
	if (r == CG_OK)
		printf("%s: ok\n", path);
	return r == CG_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	int rc;

	if (argc < 2)
		return usage(stderr, 2);
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
		return usage(stdout, 0);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("certgate %s (GnuTLS %s)\n", VERSION, gnutls_check_version(NULL));
		return 0;
	}
	if (gnutls_global_init() < 0) {
		fprintf(stderr, "certgate: GnuTLS initialisation failed\n");
		return 2;
	}
	cg_log_init(CG_LOG_INFO, false);
	if (strcmp(cmd, "pki") == 0) {
		rc = pki_tool_main(argc - 1, argv + 1);
	} else if (strcmp(cmd, "serve") == 0) {
		rc = parse_cli(argc - 1, argv + 1, &cli, true, false, false);
		rc = rc == 0 ? srv_serve_main(cli.config, cli.pidfile) : usage(rc > 0 ? stdout : stderr, rc > 0 ? 0 : 2);
	} else if (strcmp(cmd, "config-test") == 0) {
		rc = parse_cli(argc - 1, argv + 1, &cli, false, false, false);
		rc = rc == 0 ? cmd_config_test(cli.config) : usage(rc > 0 ? stdout : stderr, rc > 0 ? 0 : 2);
	} else if (strcmp(cmd, "check") == 0) {
		rc = parse_cli(argc - 1, argv + 1, &cli, false, true, true);
		rc = rc == 0 ? srv_check_main(cli.config, cli.positional, cli.json)
			     : usage(rc > 0 ? stdout : stderr, rc > 0 ? 0 : 2);
	} else if (strcmp(cmd, "audit-directory") == 0) {
		rc = parse_cli(argc - 1, argv + 1, &cli, false, true, false);
		rc = rc == 0 ? srv_audit_main(cli.config, cli.json) : usage(rc > 0 ? stdout : stderr, rc > 0 ? 0 : 2);
	} else {
		fprintf(stderr, "certgate: unknown command '%s'\n", cmd);
		rc = usage(stderr, 2);
	}
	gnutls_global_deinit();
	return rc;
}
