/* t021: the key reference generated from the job key table. The Markdown table has one row
 * per key of every section, well-formed (6 cells, no stray '|'), its role column agrees with
 * bps_job_key_role and the roles are explained, and the plain-text help
 * names every key too; every key and section appears in the fuzzing dictionary; jobs/README.md
 * holds the current Markdown table. Keys are
 * discovered from the canonical text of one job per model, so this test needs no access
 * to the table itself. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/job.h"

static char *capture(int markdown) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  bps_job_print_keys(f, markdown);
  fclose(f);
  return buf;
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
  fclose(f);
  if (b) b[got] = 0;
  return b;
}

int main(void) {
  char *md = capture(1), *txt = capture(0);
  CHECK(md && txt);
  if (!md || !txt) return bps_test_result("t021-job-keys");
  CHECK(strstr(md, "| section | key | default | allowed values | role | meaning |") != NULL);
  CHECK(strstr(md, "\nRoles say what a different value changes: result = ") != NULL);
  CHECK(strstr(txt, "\nRoles say what a different value changes: result = ") != NULL);

  /* every Markdown table row: 7 unescaped pipes (6 cells) */
  int rows = 0;
  for (char *p = md; *p;) {
    char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len && p[0] == '|') {
      int pipes = 0;
      for (size_t i = 0; i < len; i++) pipes += p[i] == '|' && (i == 0 || p[i - 1] != '\\');
      CHECK(pipes == 7);
      if (pipes != 7) fprintf(stderr, "bad row: %.*s\n", (int)len, p);
      rows++;
    }
    p += len + (nl ? 1 : 0);
  }

  /* the fuzzing dictionary next to this test */
  char dict_path[1024];
  snprintf(dict_path, sizeof dict_path, "%s", __FILE__);
  char *slash = strrchr(dict_path, '/');
  if (slash) slash[1] = 0;
  else dict_path[0] = 0;
  strncat(dict_path, "fuzz/fuzz_job.dict", sizeof dict_path - strlen(dict_path) - 1);
  char *dict = read_all(dict_path);
  CHECK(dict != NULL);

  /* every key of every model's canonical text is in both references and the dictionary */
  static const char *const models[] = {"dqnn", "vh", "qbm", "hea"};
  int keys = 0, ndistinct = 0;
  static char distinct[128][512];
  for (int m = 0; m < 6; m++) { /* m = 4, 5: dqnn landscape and moments scans */
    char text[128];
    snprintf(text, sizeof text, "[scan]\nmodel = %s\nqubits = 2\n%s", models[m % 4],
             m == 4   ? "mode = landscape\n"
             : m == 5 ? "mode = moments\n"
                      : "[output]\ndiagnostics = false\n"); /* only in the text when false */
    bps_job job;
    CHECK_OK(bps_job_parse(text, "t021", NULL, 0, &job));
    char section[256] = "";
    for (char *p = job.text; *p;) {
      char *nl = strchr(p, '\n');
      size_t len = nl ? (size_t)(nl - p) : strlen(p);
      char line[256];
      snprintf(line, sizeof line, "%.*s", (int)len, p);
      p += len + (nl ? 1 : 0);
      if (line[0] == '[') {
        snprintf(section, sizeof section, "%s", line);
        char want[512];
        snprintf(want, sizeof want, "\"%s\"", line);
        CHECK(dict && strstr(dict, want));
        snprintf(want, sizeof want, "\n%s  (", line);
        CHECK(strstr(txt, want) != NULL);
        continue;
      }
      char *eq = strstr(line, " = ");
      if (!eq) continue;
      *eq = 0;
      char want[512];
      snprintf(want, sizeof want, "| `%s` | `%s` |", section, line);
      char *row = strstr(md, want);
      CHECK(row != NULL);
      if (!row) fprintf(stderr, "Markdown reference lacks %s\n", want);
      /* the role cell (the fifth) names the key's role */
      static const char *const role_names[] = {"result", "ensemble", "layout", "output"};
      char secname[64];
      snprintf(secname, sizeof secname, "%.*s", (int)strlen(section) - 2, section + 1);
      int role = bps_job_key_role(secname, line);
      CHECK(role >= 0 && role < 4);
      if (row && role >= 0 && role < 4) {
        const char *cell = row;
        for (int c = 0; c < 4 && cell; c++) { /* to the fifth unescaped '|' */
          cell = strchr(cell + 1, '|');
          while (cell && cell[-1] == '\\') cell = strchr(cell + 1, '|');
        }
        char rc[64];
        snprintf(rc, sizeof rc, "| %s |", role_names[role]);
        CHECK(cell && !strncmp(cell, rc, strlen(rc)));
        if (!cell || strncmp(cell, rc, strlen(rc)))
          fprintf(stderr, "row %s: role cell is not '%s'\n", want, rc);
      }
      snprintf(want, sizeof want, "\n  %s = ", line);
      CHECK(strstr(txt, want) != NULL);
      snprintf(want, sizeof want, "\"%s\"", line);
      CHECK(dict && strstr(dict, want));
      if (dict && !strstr(dict, want)) fprintf(stderr, "fuzz_job.dict lacks %s\n", want);
      keys++;
      char pair[512];
      snprintf(pair, sizeof pair, "%s %s", section, line);
      int seen = 0;
      for (int i = 0; i < ndistinct && !seen; i++) seen = !strcmp(distinct[i], pair);
      if (!seen && ndistinct < 128)
        snprintf(distinct[ndistinct++], sizeof distinct[0], "%s", pair);
    }
    bps_job_free(&job);
  }
  /* jobs/README.md holds the generated table verbatim, between its two markers */
  char readme_path[1024];
  snprintf(readme_path, sizeof readme_path, "%s", __FILE__);
  slash = strrchr(readme_path, '/');
  if (slash) *slash = 0;
  slash = strrchr(readme_path, '/');
  if (slash) slash[1] = 0;
  else snprintf(readme_path, sizeof readme_path, "../");
  strncat(readme_path, "jobs/README.md", sizeof readme_path - strlen(readme_path) - 1);
  char *readme = read_all(readme_path);
  CHECK(readme != NULL);
  if (readme) {
    char *begin = strstr(readme, "<!-- BEGIN KEY TABLE"),
         *end = strstr(readme, "<!-- END KEY TABLE -->");
    CHECK(begin && end && begin < end);
    if (begin && end && begin < end) {
      begin = strchr(begin, '\n') + 1;
      size_t len = (size_t)(end - begin);
      int same = len == strlen(md) && !strncmp(begin, md, len);
      CHECK(same);
      if (!same)
        fprintf(stderr,
                "%s is out of date: replace the text between its KEY TABLE markers with "
                "the output of `bpscan help job --markdown`\n",
                readme_path);
    }
    free(readme);
  }
  /* qubits is required: the reference says so */
  CHECK(strstr(md, "| `[scan]` | `qubits` | (required) |") != NULL);
  CHECK(strstr(md, "| `[output]` | `path` | `results.h5` | file path | output |") != NULL);
  /* one row per distinct key (plus the header and separator rows): no key of the table is
   * missing from every model's canonical text */
  printf("markdown rows %d, distinct keys %d (%d with repeats)\n", rows, ndistinct, keys);
  CHECK(rows == ndistinct + 2);
  CHECK(ndistinct >= 30);
  free(dict);
  free(md);
  free(txt);
  return bps_test_result("t021-job-keys");
}
