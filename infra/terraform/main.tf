# idnest on Kubernetes: the single-node and scale-out profiles (docs/operations.md,
# "Deploying"). PostgreSQL and Redis are the cloud's managed services, passed in as URLs.
#
#   config.tf   ConfigMap (IDNEST_* settings) and Secret (URLs, keys)
#   storage.tf  the ReadWriteMany volume for IDNEST_VAR_DIR (bulk uploads)
#   migrate.tf  the `idnest migrate` Job every rollout waits for
#   http.tf     `idnest serve`: Deployment, autoscaler, Service, Ingress
#   wire.tf     `idnest resolver`: Deployment, autoscaler, dual-stack LoadBalancer
#   worker.tf   `idnest worker`: the Dramatiq workers

locals {
  namespace = var.create_namespace ? kubernetes_namespace_v1.this[0].metadata[0].name : var.namespace

  # Where IDNEST_VAR_DIR is mounted (the image's default too).
  var_dir = "/var/lib/idnest"

  labels = {
    "app.kubernetes.io/name"       = "idnest"
    "app.kubernetes.io/instance"   = var.name
    "app.kubernetes.io/managed-by" = "terraform"
  }

  # Selector labels of each tier: stable, never change them on a live deployment.
  selector = {
    http   = { "app.kubernetes.io/instance" = var.name, "app.kubernetes.io/component" = "http" }
    wire   = { "app.kubernetes.io/instance" = var.name, "app.kubernetes.io/component" = "wire" }
    worker = { "app.kubernetes.io/instance" = var.name, "app.kubernetes.io/component" = "worker" }
  }

  # Pods restart when their configuration changes (a ConfigMap or Secret edit alone
  # would not restart them). Hashes only: the values stay out of the plan.
  config_checksums = {
    "idnest.io/config-sha256" = sha256(jsonencode(kubernetes_config_map_v1.idnest.data))
    "idnest.io/secret-sha256" = nonsensitive(sha256(jsonencode(local.secret_data)))
  }

  # The uid/gid of the image's `idnest` user.
  uid = 10001
}

resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name   = var.namespace
    labels = local.labels
  }
}
