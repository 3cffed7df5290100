"""Demo knowledge base: seed 000 Appendix C's categories, and articles written for the demo
product (hosted JupyterHub and Kubernetes platforms run for research and teaching
communities, deployed with Helm), its portal, its SLAs and its escalation path.

Run by `manage.py seed_demo` (DEMO_SEEDERS) after the agents and communities exist. Every
article goes through the workflow: written by one agent, published by another. Idempotent:
an article whose slug exists is left alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from communities.models import Community
from core.models import User
from knowledgebase.models import Article, Category
from knowledgebase.services import article_create, article_submit, article_transition

CATEGORIES = [
    # (slug, name, description, parent slug)
    ("getting-started", "Getting Started", "Your first steps: the portal, the hub, basic concepts.", None),
    ("using-support", "Using Support", "Requests, severities, response times and escalation.", "getting-started"),
    ("chart-development", "Chart Development", "Helm templates, values and good practice.", None),
    ("deployment-operations", "Deployment Operations", "Deploying, environments, monitoring and troubleshooting.", None),
    ("security-compliance", "Security & Compliance", "Accounts, access, RBAC and vulnerabilities.", None),
    ("integration-automation", "Integration & Automation", "CI/CD, GitOps and the API.", None),
]  # fmt: skip

AUTHOR = "agent2@example.com"
REVIEWER = "agent3@example.com"

ARTICLES: list[dict[str, Any]] = [
    {
        "slug": "send-a-request-through-the-portal",
        "category": "using-support",
        "kind": "how_to",
        "title": "How do I send a request through the portal?",
        "summary": "Open New request, pick the kind and severity, describe what happened; you get a reference such as SD-1042.",
        "tags": ["portal", "request", "ticket"],
        "body": """Sign in to the portal and choose **New request**.

1. **Community**: if you belong to several, pick the one the request is for.
2. **Kind**: *Incident* (something is broken), *Change request* (please change something),
   *Guidance request* (how should we…), *Workshop request*, or *Question*.
3. **Severity**: see [How severities are chosen](/portal/kb/how-severities-are-chosen/).
4. **Subject**: one line that says what it is about ("JupyterHub returns 503 on login").
5. **Description**: what you expected, what happened instead, since when, and who is affected.
   Attach screenshots or logs if you have them.

While you type, the portal suggests articles that may already answer your question.

After sending you get a reference such as **SD-1042** by email. Reply to that email or use the
portal to add information. Requests from members who are not representatives first wait for a
representative of their community to approve them.
""",
    },
    {
        "slug": "why-does-my-request-wait-for-approval",
        "category": "using-support",
        "kind": "faq",
        "title": "Why does my request wait for approval?",
        "summary": "Only community representatives open requests directly; other members' requests are approved by a representative first.",
        "tags": ["portal", "approval", "representative"],
        "body": """Each community names **representatives** who speak for it. Their requests go
straight to the support team. A request from any other member waits in *Awaiting approval*
until one of the community's representatives approves it (they are asked by email).

- If it is urgent, contact your representative directly: the portal shows who they are on the
  new-request form.
- If your community has no representative at the moment, the support team looks at the
  request itself.
- A declined request is closed with the representative's reason.
""",
    },
    {
        "slug": "how-severities-are-chosen",
        "category": "using-support",
        "kind": "faq",
        "title": "How severities are chosen (Critical, High, Medium, Low)",
        "summary": "Critical: production down or a security breach. High: major breakage or degradation. Medium: partly working with a workaround. Low: questions and requests.",
        "tags": ["severity", "priority", "sla"],
        "body": """| Severity | Examples |
|---|---|
| **Critical (P1)** | Production system down, security breach, data corruption, complete unavailability |
| **High (P2)** | Significant performance degradation, a feature completely broken, a security vulnerability, many users affected |
| **Medium (P3)** | A feature partly working, a workaround exists, one user affected |
| **Low (P4)** | Documentation questions, feature requests, best-practice guidance, training |

Choose the severity that matches the **impact now**. The team may change it after looking at
the request; you will see the change and its reason on the request.

A critical request pages the on-call engineer at any hour.
""",
    },
    {
        "slug": "response-and-resolution-times",
        "category": "using-support",
        "kind": "faq",
        "title": "How fast will you answer? Response and resolution times",
        "summary": "Critical: first response within 15 minutes, around the clock. High: 1 hour. Medium: 4 hours. Low: 8 business hours.",
        "tags": ["sla", "response-time", "business-hours"],
        "body": """Targets by severity:

| Severity | First response | Resolution |
|---|---|---|
| Critical | 15 minutes, 24/7 | 4 hours |
| High | 1 hour | 8 hours |
| Medium | 4 hours | 24 hours |
| Low | 8 hours | 72 hours |

Except for critical requests, the clock counts your community's **business hours** (shown on
your service plan). It pauses while a request waits for your answer ("Waiting on customer")
and starts again when you reply.

Every request shows its due times. If a target is about to be missed, the assigned agent is
warned; a missed target escalates the request to the next tier.
""",
    },
    {
        "slug": "how-escalation-works",
        "category": "using-support",
        "kind": "faq",
        "title": "How does escalation work?",
        "summary": "Self-service first, then the community tier, then experts, then engineering; critical production issues go straight to the emergency tier.",
        "tags": ["escalation", "tiers", "expert"],
        "body": """Requests move through tiers:

1. **Self-service**: the knowledge base and the portal's suggestions answer most questions.
2. **Community**: agents who know your community's platform.
3. **Expert**: specialists for complex charts, performance, security and integrations.
4. **Engineering**: changes to the platform itself.
5. **Emergency**: production down, security breach, data loss: the on-call engineer is paged.

A request moves up when it needs more expertise or when a response target is missed. You do
not need to ask for escalation; if you think a request is stuck, reply on it and say why.
Every expert escalation ends with a knowledge-base update, so the next person finds the answer.
""",
    },
    {
        "slug": "reset-a-password",
        "category": "security-compliance",
        "kind": "how_to",
        "title": "How do I reset my password?",
        "summary": "Use 'Forgot password' on the sign-in page; the link in the email is valid for a few days and works once.",
        "tags": ["password", "login", "account", "access"],
        "body": """1. Open the sign-in page and choose **Forgot password?**
2. Enter the email address you sign in with.
3. Open the link in the email and choose a new password (at least 10 characters, not only
   digits, not a common password).

No email after a few minutes? Check your spam folder, and check that you typed the address
your account uses. The link works once.

**Representatives** can reset a member's hub password under *Admin > Users* on the community's
hub. The support team never asks for your password.
""",
    },
    {
        "slug": "cannot-sign-in-to-the-hub",
        "category": "security-compliance",
        "kind": "troubleshooting",
        "title": "I cannot sign in to the hub",
        "summary": "Check the account is in your community's allowed list, clear the hub's cookies, and look for a 403 or 503 to tell a permission problem from an outage.",
        "tags": ["login", "access", "jupyterhub", "403", "503"],
        "body": """Work through these in order:

1. **503 Service Unavailable** on every login: the hub itself is down. Check the portal's
   incident banner; if there is none, send a **Critical** request.
2. **403 Forbidden** after the identity provider: your account is not in the community's
   allowed users or group. Ask a representative to add you.
3. **Redirect loop** between the hub and the identity provider: clear the cookies of the hub's
   domain, or try a private window.
4. **Spawn failed / timeout** after signing in: see
   [My server does not start](/portal/kb/my-server-does-not-start/).

Include the exact error and the time (with time zone) in any request.
""",
    },
    {
        "slug": "my-server-does-not-start",
        "category": "deployment-operations",
        "kind": "troubleshooting",
        "title": "My server does not start (spawn timeout, pending pod)",
        "summary": "A server stuck in 'pending' usually waits for a node: large profiles, GPU or quota limits. Try a smaller profile, then send the pod's events.",
        "tags": ["jupyterhub", "spawn", "pending", "kubernetes", "quota"],
        "body": """A server that never starts is almost always a pod that cannot be scheduled.

**Try first**

- Pick a smaller profile (CPU/memory) and start again.
- Stop any other server you have running: named servers count against your quota.
- GPU profiles wait for a GPU node; the first start of the day can take 10 minutes.

**If you manage the cluster**

```bash
kubectl -n hub get pods | grep jupyter-
kubectl -n hub describe pod jupyter-<user>
```

Look at **Events**: `Insufficient cpu`/`memory` means the node pool is full (raise its
maximum or the autoscaler's limits); `exceeded quota` means the namespace's ResourceQuota;
`pod has unbound immediate PersistentVolumeClaims` means storage could not be provisioned.

Send those events with a request if it keeps happening.
""",
    },
    {
        "slug": "install-the-chart-quick-start",
        "category": "getting-started",
        "kind": "how_to",
        "title": "Quick start: install the hub chart in 10 minutes",
        "summary": "Add the Helm repository, write a minimal values file, and helm upgrade --install into its own namespace.",
        "tags": ["helm", "install", "quick-start", "chart"],
        "body": """You need `kubectl` access to a cluster and Helm 3.

```bash
helm repo add jupyterhub https://hub.jupyter.org/helm-chart/
helm repo update
```

A minimal `config.yaml`:

```yaml
proxy:
  service:
    type: LoadBalancer
singleuser:
  memory:
    limit: 2G
    guarantee: 1G
```

Install (or upgrade, the same command):

```bash
helm upgrade --install hub jupyterhub/jupyterhub \\
  --namespace hub --create-namespace --version 3.3.8 --values config.yaml
```

`kubectl -n hub get svc proxy-public` shows the address. Pin `--version`: an upgrade should be
a decision, not a surprise.
""",
    },
    {
        "slug": "basic-concepts-hub-proxy-single-user",
        "category": "getting-started",
        "kind": "faq",
        "title": "Basic concepts: hub, proxy, single-user servers and profiles",
        "summary": "The proxy routes traffic; the hub signs people in and starts one server per user from a profile; storage follows the user.",
        "tags": ["concepts", "jupyterhub", "profiles"],
        "body": """- **Proxy**: the entry point; it routes each request to the hub or to a user's server.
- **Hub**: signs people in (through your identity provider) and starts and stops servers.
- **Single-user server**: one pod per user (or per named server), started from a **profile**
  that sets the image, CPU, memory and GPU.
- **Home directory**: a persistent volume per user; it survives server restarts.
- **Culling**: idle servers stop after a while (default 1 hour) to free resources; your files
  stay.
""",
    },
    {
        "slug": "values-configuration-best-practices",
        "category": "chart-development",
        "kind": "how_to",
        "title": "Values files: structure and good practice",
        "summary": "One base values file plus one per environment, secrets kept out of Git, and helm diff before every upgrade.",
        "tags": ["helm", "values", "best-practices", "chart"],
        "body": """- Keep a **base** `values.yaml` and one small file per environment
  (`values-staging.yaml`, `values-prod.yaml`); pass both with `--values`, base first.
- Never put secrets in values files in Git: use a Kubernetes Secret referenced by name, or a
  secrets operator.
- Pin image tags; `latest` makes rollbacks meaningless.
- Run `helm diff upgrade` (helm-diff plugin) before every upgrade and read it.
- Validate with `helm template . --values … | kubeconform` in CI.
""",
    },
    {
        "slug": "template-helpers-and-naming",
        "category": "chart-development",
        "kind": "how_to",
        "title": "Writing chart templates: helpers, labels and names",
        "summary": "Put names and labels in _helpers.tpl, use the standard app.kubernetes.io labels, and quote strings from values.",
        "tags": ["helm", "templates", "chart", "labels"],
        "body": """- Define `fullname`, `labels` and `selectorLabels` once in `templates/_helpers.tpl`
  and `include` them everywhere.
- Use the standard labels `app.kubernetes.io/name`, `instance`, `version`, `managed-by`.
- Selector labels must never change after the first release: a Deployment's selector is
  immutable.
- `{{ .Values.x | quote }}` for strings; `toYaml … | nindent` for blocks.
- `helm lint` and `helm template` in CI catch most mistakes before a cluster does.
""",
    },
    {
        "slug": "upgrade-failed-another-operation-in-progress",
        "category": "deployment-operations",
        "kind": "troubleshooting",
        "title": "helm upgrade fails: 'another operation (install/upgrade/rollback) is in progress'",
        "summary": "A previous release got stuck in pending-upgrade. Check helm history, then roll back to the last deployed revision.",
        "tags": ["helm", "upgrade", "rollback", "pending-upgrade"],
        "body": """This happens when an earlier `helm upgrade` was interrupted (a CI job cancelled, a
timeout) and left the release in `pending-upgrade` or `pending-install`.

```bash
helm -n hub history hub
```

Find the last revision with status `deployed` and roll back to it:

```bash
helm -n hub rollback hub <revision>
```

Then run the upgrade again. To avoid it: give CI jobs `--timeout` longer than the slowest
rollout and do not cancel them mid-upgrade; use `--atomic` to roll back automatically.
""",
    },
    {
        "slug": "set-up-monitoring-and-alerts",
        "category": "deployment-operations",
        "kind": "how_to",
        "title": "Set up monitoring and alerts for your hub",
        "summary": "Scrape the hub's /metrics with Prometheus, chart active users and spawn times, and alert on spawn failures and proxy errors.",
        "tags": ["monitoring", "prometheus", "grafana", "alerts"],
        "body": """The hub exposes Prometheus metrics at `/hub/metrics`.

Worth a dashboard: active users, running servers, **spawn duration** (p95), failed spawns,
proxy 5xx rate, node pool usage.

Worth an alert:

- failed spawns above 5 % over 15 minutes;
- proxy 5xx above 1 % over 5 minutes;
- node pool at its maximum for 30 minutes (people will wait for servers).

Send alerts to your on-call rotation, not to a shared inbox.
""",
    },
    {
        "slug": "rbac-for-community-admins",
        "category": "security-compliance",
        "kind": "how_to",
        "title": "RBAC: give a community admin rights to their namespace only",
        "summary": "A Role and RoleBinding scoped to the namespace; never a ClusterRoleBinding to cluster-admin.",
        "tags": ["rbac", "kubernetes", "security", "access"],
        "body": """```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: community-admins
  namespace: aurora
subjects:
  - kind: Group
    name: aurora-admins
    apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: ClusterRole
  name: admin   # the built-in namespace admin role
  apiGroup: rbac.authorization.k8s.io
```

Binding the built-in `admin` ClusterRole with a **RoleBinding** limits it to the namespace.
Check with `kubectl auth can-i --as-group=aurora-admins --as=x delete pods -n other`.
""",
    },
    {
        "slug": "report-a-security-vulnerability",
        "category": "security-compliance",
        "kind": "faq",
        "title": "How do I report a security vulnerability?",
        "summary": "Send a Critical request (or High if nothing is exposed yet) marked as security; do not post details in public channels.",
        "tags": ["security", "vulnerability", "cve", "severity"],
        "body": """- A breach or an actively exploited vulnerability: **Critical** request, which pages
  the on-call engineer.
- A vulnerability with no sign of exploitation: **High**.
- Put *Security* in the subject. Describe what you found, where, and how to reproduce it.
- Do not post details in public forums or chat until it is fixed.

We confirm receipt within the severity's response time and keep you updated until it is closed.
""",
    },
    {
        "slug": "ci-cd-deploy-with-github-actions",
        "category": "integration-automation",
        "kind": "how_to",
        "title": "Deploy the chart from CI (GitHub Actions)",
        "summary": "Lint and template on every pull request; on merge, helm upgrade --install --atomic with a pinned chart version.",
        "tags": ["ci-cd", "github-actions", "helm", "deploy"],
        "body": """```yaml
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: azure/setup-helm@v4
      - run: helm lint chart/
      - run: >
          helm upgrade --install hub jupyterhub/jupyterhub --version 3.3.8
          --namespace hub --values values.yaml --values values-prod.yaml
          --atomic --timeout 15m
```

Keep the cluster credentials in the repository's secrets, scoped to the namespace (see the RBAC
article). `--atomic` rolls back a failed upgrade.
""",
    },
    {
        "slug": "gitops-with-argo-cd",
        "category": "integration-automation",
        "kind": "how_to",
        "title": "GitOps: manage the hub with Argo CD",
        "summary": "An Argo CD Application pointing at the chart and your values repository; changes are pull requests, rollbacks are reverts.",
        "tags": ["gitops", "argo-cd", "helm"],
        "body": """Describe the release as an Argo CD `Application` with the chart repository, a pinned
`targetRevision`, and your values files from Git. Every change is then a pull request and
every rollback a revert.

Turn on automated sync with `prune` and `selfHeal` only once the team is used to it; until
then, sync by hand after reading the diff Argo CD shows.
""",
    },
    {
        "slug": "use-the-support-api",
        "category": "integration-automation",
        "kind": "how_to",
        "title": "Use the support API to open and follow requests",
        "summary": "Get a token at /api/v1/auth/token/, then POST /api/v1/tickets/; send an Idempotency-Key so a retry never opens two.",
        "tags": ["api", "automation", "token", "tickets"],
        "body": """```bash
curl -s -X POST https://support.example/api/v1/auth/token/ \\
  -d email=you@example.org -d password=…
# {"token": "…"}

curl -s -X POST https://support.example/api/v1/tickets/ \\
  -H "Authorization: Token …" -H "Idempotency-Key: $(uuidgen)" \\
  -H "Content-Type: application/json" \\
  -d '{"community": "aurora", "subject": "Nightly job failed", "description": "…",
       "kind": "incident", "severity": "medium"}'
```

The API's documentation is at `/api/docs/`. Articles of this knowledge base are at
`/api/v1/kb/articles/`.
""",
    },
    {
        "slug": "known-issue-slow-spawns-after-node-upgrade",
        "category": "deployment-operations",
        "kind": "known_issue",
        "title": "Known issue: slow first spawns after a node pool upgrade",
        "summary": "After a node upgrade the first server on each new node pulls the image (3-8 minutes). Pre-pulling is on by default; check it is not disabled.",
        "tags": ["known-issue", "spawn", "image-pull", "upgrade"],
        "body": """**Symptom**: after a node pool upgrade, the first servers take 3 to 8 minutes to start;
later ones are fast.

**Cause**: new nodes do not have the user image yet, and it is several gigabytes.

**Workaround**: keep `prePuller.hook.enabled` and `prePuller.continuous.enabled` on (the
default) so images are pulled before users arrive; schedule upgrades outside teaching hours.
""",
    },
    {
        "slug": "kestrel-gpu-profiles",
        "category": "deployment-operations",
        "kind": "how_to",
        "audience": "restricted",
        "communities": ["kestrel"],
        "title": "Kestrel Genomics: choosing a GPU profile",
        "summary": "Kestrel's hub has two GPU profiles; use the small one for notebooks and the large one for training runs booked in advance.",
        "tags": ["gpu", "profiles", "kestrel"],
        "body": """Kestrel's hub offers:

- **GPU small** (1 × T4, 8 CPU, 32 GB): interactive notebooks, available any time.
- **GPU large** (1 × A100, 16 CPU, 96 GB): training runs; book them through a workshop request
  at least two working days ahead.

Stop GPU servers when you are done: they are culled after 30 minutes idle.
""",
    },
    {
        "slug": "runbook-restart-the-hub-proxy",
        "category": "deployment-operations",
        "kind": "troubleshooting",
        "audience": "staff",
        "title": "Runbook: restart a crash-looping hub proxy",
        "summary": "For agents: check the proxy's events, restart the deployment, confirm /hub/health, and update the incident.",
        "tags": ["runbook", "proxy", "crashloopbackoff"],
        "body": """1. `kubectl -n <ns> get pods -l component=proxy` and `describe` the pod: note the reason.
2. If it is OOMKilled, raise `proxy.chp.resources.limits.memory` in the values and upgrade.
3. Otherwise `kubectl -n <ns> rollout restart deploy/proxy` and watch it become ready.
4. Check `https://<hub>/hub/health` returns 200.
5. Post a status update on the incident and link this runbook.
""",
    },
]


def _category_seed() -> dict[str, Category]:
    by_slug: dict[str, Category] = {}
    for position, (slug, name, description, parent) in enumerate(CATEGORIES):
        category, _ = Category.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "parent": by_slug.get(parent) if parent else None,
                "position": position,
            },
        )
        by_slug[slug] = category
    return by_slug


def seed() -> None:
    categories = _category_seed()
    author = User.objects.filter(email=AUTHOR).first()
    reviewer = User.objects.filter(email=REVIEWER).first()
    if author is None or reviewer is None:
        return
    today = timezone.localdate()
    for index, spec in enumerate(ARTICLES):
        if Article.objects.filter(slug=spec["slug"]).exists():
            continue
        data = {k: v for k, v in spec.items() if k not in ("communities",)}
        data["category"] = categories[spec["category"]]
        if spec.get("communities"):
            data["communities"] = list(Community.objects.filter(slug__in=spec["communities"]))
            if not data["communities"]:
                continue
        article = article_create(actor=author, data=data)
        article_submit(article=article, actor=author)
        article_transition(article=article, name="approve", actor=reviewer)
        if index == 3:  # one article past its review date, for the needs-review queue
            Article.objects.filter(pk=article.pk).update(review_by=today - timedelta(days=3))
    # One draft waiting for review, so the review queue has something in it.
    if not Article.objects.filter(slug="share-a-large-dataset-with-all-users").exists():
        draft = article_create(
            actor=author,
            data={
                "slug": "share-a-large-dataset-with-all-users",
                "title": "How should we share a large dataset with all users?",
                "summary": "A read-only object-storage bucket mounted or read by every server.",
                "body": "Put the data in object storage with a read-only bucket policy for the "
                "hub's service account, and read it with `s3fs`/`gcsfs` or mount it read-only. "
                "Do not copy it into home directories.",
                "kind": "how_to",
                "category": categories["deployment-operations"],
                "tags": ["data", "storage", "s3"],
            },
        )
        article_submit(article=draft, actor=author)
