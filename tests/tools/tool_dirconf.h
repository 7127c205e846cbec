/* For the directory test drivers (dircheck, synctest): load a file holding
 * only [directory] and [map:NAME] sections into a struct dir_config, with
 * FILE:LINE errors like certgate's own parser. */
#ifndef TOOL_DIRCONF_H
#define TOOL_DIRCONF_H

#include <stddef.h>
#include "common/cg_err.h"
#include "ldap/dir_config.h"

/* On CG_OK *cfg is loaded and finished (the caller frees it with
 * dir_config_free); otherwise err says why and nothing is left to free.
 * Relative file names in it are relative to the file's directory. */
CG_MUST_CHECK enum cg_err tool_dir_config_load(const char *file, struct dir_config *cfg, char *err, size_t errlen);

#endif
