#!/usr/bin/python3
"""check_cli.py - `qrank cluster` and `qrank eval` end to end on synthetic models.

  check_cli.py QRANK SOURCE_DIR EMBEDDER.gguf RERANKER.gguf WORK_DIR

The models have random weights, so the scores mean nothing; what is checked is
what the commands promise whatever the weights:
- cluster: every post in exactly one cluster, texts and line numbers as in the
  input, central posts nearest the centroid, members best first; the labels
  are a k-means fixed point of the embeddings `qrank embed` gives with the
  same instruction, and the silhouette equals the textbook O(n^2) formula on
  them; k by silhouette is the best of the range; with a query the scores
  are exactly `qrank rerank`'s; the output is the same for a seed and any
  thread count; errors are one line on stderr and a non-zero exit.
- eval: every metric recomputed here from the labels and the printed scores,
  the scores equal `qrank rerank`'s, overall = mean of the queries, errors.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np

QRANK, SOURCE, EMB, RR, WORK = sys.argv[1:6]
POSTS = os.path.join(SOURCE, "examples", "ai-drawing-200.txt")
EVAL_SET = os.path.join(SOURCE, "eval", "social-posts.jsonl")
CLUSTER_INSTRUCTION = "Identify the topic or theme of the given social media posts"
QUERY = "Stable Diffusion vs Midjourney"

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, file=sys.stderr)


def run(args, stdin=None):
    p = subprocess.run([QRANK] + args, input=stdin, capture_output=True, timeout=600)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def run_json(args):
    rc, out, err = run(args)
    if rc != 0:
        raise SystemExit("qrank %s failed (%d): %s" % (" ".join(args), rc, err))
    return json.loads(out), out


def read_posts(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(i + 1, l) for i, l in enumerate(lines) if l.strip()]


def embed(path, instruction):
    args = ["embed", "-m", EMB, "-f", path]
    if instruction:
        args += ["-i", instruction]
    rc, out, err = run(args)
    if rc != 0:
        raise SystemExit("qrank embed failed: " + err)
    return np.array([json.loads(l) for l in out.splitlines() if l.strip()], dtype=np.float64)


def rerank_scores(path, query, instruction=None):
    args = ["rerank", "-m", RR, "-q", query, "-f", path, "--json"]
    if instruction:
        args += ["-i", instruction]
    out, _ = run_json(args)
    scores = {}
    for r in out["results"]:
        scores[r["index"]] = r["relevance_score"]
    return scores


def silhouette_cosine(x, labels):
    """scikit-learn's silhouette_score(metric='cosine'), written out."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = 1.0 - x @ x.T
    n = len(labels)
    s = np.zeros(n)
    ks = sorted(set(labels))
    for i in range(n):
        own = labels[i]
        members = [j for j in range(n) if labels[j] == own and j != i]
        if not members:
            continue
        a = d[i, members].mean()
        b = min(d[i, [j for j in range(n) if labels[j] == k]].mean() for k in ks if k != own)
        s[i] = (b - a) / max(a, b)
    return s.mean()


def check_structure(out, posts, label, with_scores):
    n = len(posts)
    check(out["posts"] == n, "%s: posts %r" % (label, out["posts"]))
    k = out["k"]
    clusters = out["clusters"]
    check(len(clusters) == k, "%s: %d clusters for k %d" % (label, len(clusters), k))
    labels = out["labels"]
    check(len(labels) == n and len(out["map"]) == n, "%s: labels/map length" % label)
    seen = [0] * n
    last_size = n + 1
    for c, cl in enumerate(clusters):
        check(cl["cluster"] == c, "%s: cluster numbering" % label)
        members = cl["members"]
        check(cl["size"] == len(members) and cl["size"] <= last_size, "%s: sizes not largest first" % label)
        last_size = cl["size"]
        for m in members:
            i = m["index"]
            seen[i] += 1
            check(labels[i] == c, "%s: post %d listed in cluster %d, labelled %d" % (label, i, c, labels[i]))
            check((m["line"], m["text"]) == posts[i], "%s: post %d text/line differ from the input" % (label, i))
            check(("score" in m) == with_scores, "%s: score present=%s" % (label, "score" in m))
        key = [m["score"] if with_scores else m["similarity"] for m in members]
        check(all(a >= b for a, b in zip(key, key[1:])), "%s: cluster %d members not best first" % (label, c))
        sims = sorted((m["similarity"] for m in members), reverse=True)
        central = cl["central"]
        check(len(central) == min(3, len(members)), "%s: %d central posts" % (label, len(central)))
        by_index = {m["index"]: m for m in members}
        for j, p in enumerate(central):
            check(p["index"] in by_index, "%s: central post %d not a member" % (label, p["index"]))
            if p["index"] in by_index:
                check(abs(by_index[p["index"]]["similarity"] - sims[j]) < 1e-6,
                      "%s: central post %d is not the %d-th nearest" % (label, p["index"], j + 1))
    check(all(s == 1 for s in seen), "%s: some post is not in exactly one cluster" % label)
    return labels


def check_against_embeddings(out, vectors, label):
    labels = np.array(out["labels"])
    x = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    k = out["k"]
    cent = np.stack([x[labels == c].sum(0) for c in range(k)])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    sim = x @ cent.T
    own = sim[np.arange(len(x)), labels]
    # A k-means fixed point: nobody is nearer another centroid (float noise aside).
    check(np.all(own >= sim.max(1) - 1e-4), "%s: a post is nearer another cluster's centroid" % label)
    for cl in out["clusters"]:
        for m in cl["members"]:
            if abs(m["similarity"] - own[m["index"]]) > 1e-4:
                check(False, "%s: post %d similarity %f, recomputed %f" % (label, m["index"], m["similarity"],
                                                                            own[m["index"]]))
                break
    if k >= 2:
        s = silhouette_cosine(vectors, list(labels))
        check(abs(s - out["silhouette"]) < 1e-4, "%s: silhouette %f, recomputed %f" % (label, out["silhouette"], s))
        by_k = {e["k"]: e["silhouette"] for e in out["silhouette_by_k"]}
        if out["k_chosen_by"] == "given":
            check(abs(by_k[k] - out["silhouette"]) < 1e-5, "%s: silhouette_by_k[k] differs" % label)


def test_cluster():
    posts = read_posts(POSTS)
    vectors = embed(POSTS, CLUSTER_INSTRUCTION)
    check(vectors.shape[0] == len(posts), "embed gave %d vectors for %d posts" % (vectors.shape[0], len(posts)))

    # Given k, no query.
    out, text1 = run_json(["cluster", "-m", EMB, "-f", POSTS, "-k", "5", "--json", "--seed", "7"])
    check(out["k"] == 5 and out["k_chosen_by"] == "given", "k 5: %r" % out["k"])
    check_structure(out, posts, "k=5", False)
    check_against_embeddings(out, vectors, "k=5")

    # Same seed, other thread counts: the same bytes.
    for threads in ("1", "2"):
        _, text2 = run_json(["cluster", "-m", EMB, "-f", POSTS, "-k", "5", "--json", "--seed", "7",
                             "--threads", threads])
        check(text1 == text2, "k=5 seed 7: output differs with --threads %s" % threads)

    # k by silhouette in a range: the reported k has the best silhouette.
    out, _ = run_json(["cluster", "-m", EMB, "-f", POSTS, "--k-min", "2", "--k-max", "6", "--json"])
    by_k = [(e["k"], e["silhouette"]) for e in out["silhouette_by_k"]]
    check([k for k, _ in by_k] == [2, 3, 4, 5, 6], "silhouette_by_k range %r" % by_k)
    best = max(s for _, s in by_k)
    first_best = min(k for k, s in by_k if s == best)
    check(out["k_chosen_by"] == "silhouette", "k_chosen_by %r" % out["k_chosen_by"])
    # Empty clusters would be dropped, so k can only be at most the winner.
    check(out["k"] <= first_best and abs(out["silhouette"] - best) < 1e-6,
          "chose k %d (silhouette %f), best is k %d (%f)" % (out["k"], out["silhouette"], first_best, best))
    check_structure(out, posts, "k by silhouette", False)
    check_against_embeddings(out, vectors, "k by silhouette")

    # With a query: the reranker's scores order the members, and they are
    # exactly what `qrank rerank` gives for the same posts.
    out, textq = run_json(["cluster", "-m", EMB, "-r", RR, "-q", QUERY, "-f", POSTS, "-k", "4", "--json"])
    check(out.get("query") == QUERY and out.get("reranker"), "query/reranker missing")
    check_structure(out, posts, "query", True)
    want = rerank_scores(POSTS, QUERY)
    worst = max(abs(m["score"] - want[m["index"]]) for cl in out["clusters"] for m in cl["members"])
    check(worst < 2e-6, "cluster scores differ from qrank rerank by %g" % worst)
    _, textq2 = run_json(["cluster", "-m", EMB, "-r", RR, "-q", QUERY, "-f", POSTS, "-k", "4", "--json"])
    check(textq == textq2, "with a query: two runs differ")

    # MRL dimensions and a plain (no instruction) embedding.
    out, _ = run_json(["cluster", "-m", EMB, "-f", POSTS, "-k", "3", "--dims", "32", "--json"])
    check(out["dims"] == 32, "dims %r" % out["dims"])
    check_against_embeddings(out, embed(POSTS, CLUSTER_INSTRUCTION)[:, :32], "dims 32")
    out, _ = run_json(["cluster", "-m", EMB, "-f", POSTS, "-k", "3", "-i", "", "--json"])
    check_against_embeddings(out, embed(POSTS, None), "no instruction")

    # Text output: a header, one block per cluster, --show cuts the list.
    rc, text, err = run(["cluster", "-m", EMB, "-r", RR, "-q", QUERY, "-f", POSTS, "-k", "3", "--show", "2"])
    check(rc == 0 and err == "", "text output: rc %d, stderr %r" % (rc, err))
    check(text.startswith("200 posts in 3 clusters"), "text header: %r" % text[:80])
    check(text.count("\n== cluster ") == 3 and "central posts:" in text, "text blocks")
    check("members by P(yes) for the query:" in text and "more (--show 0 lists all)" in text, "text members")

    # Blank lines are skipped and line numbers still point into the file.
    path = os.path.join(WORK, "with-blanks.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(["first post about SD", "", "  ", "second post about MJ", "third: prices"]) + "\n")
    out, _ = run_json(["cluster", "-m", EMB, "-f", path, "-k", "2", "--json"])
    lines = sorted((m["line"], m["text"]) for cl in out["clusters"] for m in cl["members"])
    check(lines == [(1, "first post about SD"), (4, "second post about MJ"), (5, "third: prices")],
          "blank lines: %r" % lines)
    # stdin works too.
    rc, text, _ = run(["cluster", "-m", EMB, "-k", "2", "--json"], stdin="a\nb\nc\n".encode())
    check(rc == 0 and json.loads(text)["posts"] == 3, "stdin input")

    empty = os.path.join(WORK, "empty.txt")
    with open(empty, "w") as f:
        f.write("\n \n")
    errors = [
        (["cluster", "-f", POSTS], "needs -m"),
        (["cluster", "-m", EMB, "-f", POSTS, "-q", QUERY], "needs -r"),
        (["cluster", "-m", EMB, "-f", POSTS, "-r", RR], "needs -q"),
        (["cluster", "-m", EMB, "-f", POSTS, "-k", "0"], "-k"),
        (["cluster", "-m", EMB, "-f", POSTS, "-k", "500"], "only 200 posts"),
        (["cluster", "-m", EMB, "-f", POSTS, "-k", "3", "--k-min", "2"], "not both"),
        (["cluster", "-m", EMB, "-f", POSTS, "--k-min", "5", "--k-max", "3"], "above --k-max"),
        (["cluster", "-m", EMB, "-f", POSTS, "--seed", "-1"], "--seed"),
        (["cluster", "-m", EMB, "-f", empty], "no posts"),
        (["cluster", "-m", EMB, "-f", os.path.join(WORK, "missing.txt")], "cannot open"),
        (["cluster", "-m", os.path.join(WORK, "missing.gguf"), "-f", POSTS], "missing.gguf"),
        (["cluster", "-m", RR, "-f", POSTS], "embedding model"),
        (["cluster", "-m", EMB, "-r", EMB, "-q", QUERY, "-f", POSTS], "reranker"),
        (["cluster", "-m", EMB, "-f", POSTS, "--dims", "100000"], "dimensions"),
        (["cluster", "-m", EMB, "-f", POSTS, "--bogus"], "unknown option"),
    ]
    for args, needle in errors:
        rc, out_text, err = run(args)
        lines = [l for l in err.splitlines() if l.startswith("qrank:")]
        check(rc != 0, "%s: exit 0" % " ".join(args[1:]))
        check(out_text == "", "%s: printed to stdout" % " ".join(args[1:]))
        check(len(lines) == 1 and needle in lines[0], "%s: stderr %r, want one line with %r" %
              (" ".join(args[1:]), err, needle))


def ndcg(labels, order, k):
    dcg = sum(labels[d] / math.log2(r + 2) for r, d in enumerate(order[:k]))
    ideal = sorted(labels, reverse=True)
    idcg = sum(l / math.log2(r + 2) for r, l in enumerate(ideal[:k]))
    return dcg / idcg if idcg > 0 else 0.0


def metrics(labels, order, min_relevant):
    ranks = [r for r, d in enumerate(order) if labels[d] >= min_relevant]
    return {"ndcg@5": ndcg(labels, order, 5), "ndcg@10": ndcg(labels, order, 10),
            "mrr": 1.0 / (ranks[0] + 1) if ranks else 0.0,
            "p@1": 1.0 if labels[order[0]] >= min_relevant else 0.0}


def close(a, b):
    return all(abs(a[key] - b[key]) < 2e-6 for key in ("ndcg@5", "ndcg@10", "mrr", "p@1"))


def test_eval():
    with open(EVAL_SET, encoding="utf-8") as f:
        rows = [json.loads(l) for l in f if l.strip()]
    for min_relevant in (3, 2):
        out, text = run_json(["eval", "-m", RR, "-f", EVAL_SET, "--json", "--min-relevant", str(min_relevant)])
        check(out["min_relevant"] == min_relevant, "min_relevant %r" % out["min_relevant"])
        check(len(out["queries"]) == len(rows), "%d queries" % len(out["queries"]))
        sums = {"reranker": np.zeros(4), "original": np.zeros(4)}
        for q, row in zip(out["queries"], rows):
            check(q["query"] == row["query"] and q["documents"] == len(row["documents"]), "query %r" % q["query"])
            scores = q["scores"]
            # Stable sort by score, best first: ties keep the input order.
            order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
            want_r = metrics(row["labels"], order, min_relevant)
            want_o = metrics(row["labels"], list(range(len(scores))), min_relevant)
            check(close(q["reranker"], want_r), "%s: reranker %r, recomputed %r" % (q["query"], q["reranker"], want_r))
            check(close(q["original"], want_o), "%s: original %r, recomputed %r" % (q["query"], q["original"], want_o))
            for name in sums:
                sums[name] += [q[name][k] for k in ("ndcg@5", "ndcg@10", "mrr", "p@1")]
        for name in sums:
            mean = sums[name] / len(rows)
            got = [out["overall"][name][k] for k in ("ndcg@5", "ndcg@10", "mrr", "p@1")]
            check(np.allclose(mean, got, atol=2e-6), "overall %s %r, mean of queries %r" % (name, got, mean))
        _, text2 = run_json(["eval", "-m", RR, "-f", EVAL_SET, "--json", "--min-relevant", str(min_relevant)])
        check(text == text2, "eval: two runs differ")

    # The scores are the reranker's, with the default instruction.
    first = rows[0]
    path = os.path.join(WORK, "first-query.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(first["documents"]) + "\n")
    want = rerank_scores(path, first["query"])
    got = out["queries"][0]["scores"]
    check(max(abs(got[i] - want[i]) for i in range(len(got))) < 2e-6, "eval scores differ from qrank rerank")
    # A line's own instruction is used.
    one = os.path.join(WORK, "one.jsonl")
    with open(one, "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(first, instruction="Find posts written at the event")) + "\n")
    out1, _ = run_json(["eval", "-m", RR, "-f", one, "--json"])
    want = rerank_scores(path, first["query"], "Find posts written at the event")
    got = out1["queries"][0]["scores"]
    check(max(abs(got[i] - want[i]) for i in range(len(got))) < 2e-6, "the line's instruction is not used")

    rc, text, err = run(["eval", "-m", RR, "-f", EVAL_SET])
    check(rc == 0 and "overall, mean of %d queries" % len(rows) in text, "eval text output")
    check(text.count("\n") >= len(rows) + 5, "eval text: one line per query")

    low = os.path.join(WORK, "low.jsonl")  # its best label is 4
    with open(low, "w", encoding="utf-8") as f:
        f.write('{"query": "q", "documents": ["a", "b"], "labels": [4, 0]}\n')
    bad = os.path.join(WORK, "bad.jsonl")
    with open(bad, "w", encoding="utf-8") as f:
        f.write(json.dumps(first, ensure_ascii=False) + "\n")
        f.write('{"query": "q", "documents": ["a", "b"], "labels": [1]}\n')
    errors = [
        (["eval", "-f", EVAL_SET], "needs -m"),
        (["eval", "-m", RR], "needs -f"),
        (["eval", "-m", RR, "-f", bad], "line 2"),
        (["eval", "-m", RR, "-f", os.path.join(WORK, "missing.jsonl")], "missing.jsonl"),
        (["eval", "-m", EMB, "-f", EVAL_SET], "needs a reranker"),
        (["eval", "-m", RR, "-f", EVAL_SET, "--min-relevant", "6"], "--min-relevant"),
        (["eval", "-m", RR, "-f", low, "--min-relevant", "5"], "no document has a label >= 5"),
    ]
    for args, needle in errors:
        rc, out_text, err = run(args)
        lines = [l for l in err.splitlines() if l.startswith("qrank:")]
        check(rc != 0, "%s: exit 0" % " ".join(args[1:]))
        check(out_text == "", "%s: printed to stdout" % " ".join(args[1:]))
        check(len(lines) == 1 and needle in lines[0], "%s: stderr %r, want one line with %r" %
              (" ".join(args[1:]), err, needle))


def main():
    os.makedirs(WORK, exist_ok=True)
    test_cluster()
    test_eval()
    if failures:
        print("check_cli: %d failure(s)" % len(failures), file=sys.stderr)
        return 1
    print("check_cli: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
