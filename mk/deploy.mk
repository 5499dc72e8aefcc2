# Docker Compose and Kubernetes targets of tracelab, included by the root
# Makefile (`include mk/deploy.mk`). docs/deploy.md explains each mode.
#
#   make compose-up        build the service image, start everything, wait for
#                          every healthcheck, print the URLs
#   make compose-down      stop and remove the containers (add COMPOSE_DOWN_FLAGS=-v
#                          to drop the volumes: database, traces, metrics)
#   make compose-logs      follow the logs (C=<service> for one)
#   make compose-status    containers, health and published ports
#   make test-compose      the e2e trace-shape tests against the Compose stack
#   make k8s-render        write the rendered manifests of K8S_OVERLAY to build/k8s/
#   make k8s-up            apply K8S_OVERLAY (dev | production) to the current context
#   make k8s-down          delete it again
#
# The overlays render with plain kustomize (the base is infra/kustomization.yaml,
# beside the shared configs), so `kubectl apply --server-side -k
# infra/k8s/overlays/<overlay>` works too; render | apply keeps the exact
# manifests in build/k8s/ for k8s-down and for review.

COMPOSE ?= docker compose
COMPOSE_DOWN_FLAGS ?=
COMPOSE_WAIT_TIMEOUT ?= 300
KUBECTL ?= kubectl
K8S_OVERLAY ?= dev
K8S_NAMESPACE ?= tracelab
K8S_RENDER_DIR ?= build/k8s
KUSTOMIZE_FLAGS ?=
DEPLOY_PYTEST ?= .venv/bin/pytest
CONFIRM ?=
C ?=

# Mode selection for the root Makefile's up/down/logs/status: MODE=compose or
# MODE=local wins; otherwise compose where a Docker engine answers. Recursive
# (=), so `docker info` only runs when a target uses it.
TRACELAB_MODE = $(or $(MODE),$(if $(shell docker info >/dev/null 2>&1 && echo yes),compose,local))

# service:container-port pairs whose published address compose-up prints.
COMPOSE_URLS := console:8090 frontend:8080 jaeger:16686 tempo:3200 loki:3100 grafana:3000 prometheus:9090 \
	locust:8089 otel-collector:4318 otel-collector:8889

.PHONY: compose-up compose-down compose-logs compose-status test-compose \
	k8s-render k8s-up k8s-down

# The admin API's token: made once per Compose project (in .run/compose, mounted
# into the services as a Compose secret) and once per cluster (a Secret), never
# committed. The local stack makes its own (tracelab/stack/secrets.py).
NEW_TOKEN = python3 -c 'import secrets; print(secrets.token_urlsafe(32))'
COMPOSE_SECRETS_DIR ?= .run/compose

compose-up:
	@mkdir -p $(COMPOSE_SECRETS_DIR) && chmod 700 $(COMPOSE_SECRETS_DIR)
	@test -s $(COMPOSE_SECRETS_DIR)/admin-token || \
		(umask 077 && $(NEW_TOKEN) > $(COMPOSE_SECRETS_DIR)/admin-token)
	$(COMPOSE) up --build --detach --wait --wait-timeout $(COMPOSE_WAIT_TIMEOUT)
	@echo "tracelab is up (mode: compose)"
	@for pair in $(COMPOSE_URLS); do \
		svc=$${pair%%:*}; port=$${pair##*:}; \
		addr=$$($(COMPOSE) port $$svc $$port 2>/dev/null || echo "(not published)"); \
		printf '  %-16s http://%s\n' "$$svc:$$port" "$$addr"; \
	done

compose-down:
	$(COMPOSE) down --remove-orphans $(COMPOSE_DOWN_FLAGS)

compose-logs:
	$(COMPOSE) logs --follow --tail=200 $(C)

compose-status:
	$(COMPOSE) ps --all

test-compose:
	$(DEPLOY_PYTEST) tests/compose -v

k8s-render:
	@mkdir -p $(K8S_RENDER_DIR)
	$(KUBECTL) kustomize $(KUSTOMIZE_FLAGS) infra/k8s/overlays/$(K8S_OVERLAY) \
		> $(K8S_RENDER_DIR)/$(K8S_OVERLAY).yaml
	@echo "wrote $(K8S_RENDER_DIR)/$(K8S_OVERLAY).yaml"

# Server-side apply: the seed ConfigMap is too large for the annotation that
# client-side apply keeps. The locustfile ConfigMap comes from
# loadtest/locustfile.py and the journeys it imports (infra/k8s/base/locust.yaml
# mounts each key at its package path; Locust waits where the file is missing);
# only dev runs Locust, production has no load generator in its namespace.
k8s-up: k8s-render
	$(KUBECTL) apply --server-side --force-conflicts -f $(K8S_RENDER_DIR)/$(K8S_OVERLAY).yaml
	@# The admin API's token: one per cluster, made here once, never committed.
	@$(KUBECTL) -n $(K8S_NAMESPACE) get secret tracelab-admin >/dev/null 2>&1 || \
		$(KUBECTL) -n $(K8S_NAMESPACE) create secret generic tracelab-admin \
			--from-literal=TRACELAB_ADMIN_TOKEN=$$($(NEW_TOKEN))
	@if [ "$(K8S_OVERLAY)" != dev ]; then :; elif [ -f loadtest/locustfile.py ]; then \
		$(KUBECTL) -n $(K8S_NAMESPACE) create configmap locustfile \
			--from-file=locustfile.py=loadtest/locustfile.py \
			--from-file=journeys.py=tracelab/journeys.py \
			--from-file=accounts.py=services/db/accounts.py --dry-run=client -o yaml \
		| $(KUBECTL) apply --server-side --force-conflicts -f - ; \
	else \
		echo "loadtest/locustfile.py not found: the Locust pods wait for ConfigMap locustfile"; \
	fi
	$(KUBECTL) -n $(K8S_NAMESPACE) rollout status statefulset/postgres --timeout=300s
	$(KUBECTL) -n $(K8S_NAMESPACE) wait deployment --for=condition=Available \
		--selector='app.kubernetes.io/component notin (locust-master,locust-worker)' --timeout=300s
	@echo "tracelab is up (mode: kubernetes, overlay $(K8S_OVERLAY), namespace $(K8S_NAMESPACE))"
	@if [ "$(K8S_OVERLAY)" = dev ]; then \
		echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/console 8090:8090    -> http://localhost:8090 (the console)"; \
	fi
	@echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/frontend 8080:8080   -> http://localhost:8080"
	@echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/jaeger 16686:16686   -> http://localhost:16686"
	@echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/grafana 3000:3000    -> http://localhost:3000"
	@echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/tempo 3200:3200      -> http://localhost:3200"
	@echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/loki 3100:3100       -> http://localhost:3100"
	@echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/prometheus 9090:9090 -> http://localhost:9090"
	@if [ "$(K8S_OVERLAY)" = dev ]; then \
		echo "  kubectl -n $(K8S_NAMESPACE) port-forward svc/locust-master 8089:8089 -> http://localhost:8089"; \
	fi

# Deleting the rendered objects deletes the namespace too, with its volumes:
# the production overlay asks for CONFIRM=yes first.
k8s-down: k8s-render
	@if [ "$(K8S_OVERLAY)" = production ] && [ "$(CONFIRM)" != yes ]; then \
		echo "k8s-down deletes namespace $(K8S_NAMESPACE) and its volumes: run with CONFIRM=yes"; \
		exit 1; \
	fi
	$(KUBECTL) -n $(K8S_NAMESPACE) delete configmap locustfile --ignore-not-found
	$(KUBECTL) delete --ignore-not-found -f $(K8S_RENDER_DIR)/$(K8S_OVERLAY).yaml
