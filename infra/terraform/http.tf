# The HTTP tier: `idnest serve` (portal, REST APIs, GS1/OID resolvers, the periodic-job
# scheduler) behind the cluster's ingress controller. The wire door is turned off here
# (IDNEST_WIRE_ENABLED=false): the resolver tier in wire.tf answers port 2641.

resource "kubernetes_deployment_v1" "http" {
  #checkov:skip=CKV_K8S_14:the image is var.image, which checkov cannot resolve; README.md requires an immutable tag (a new tag is a new migration Job)
  #checkov:skip=CKV_K8S_43:a digest is allowed in var.image and recommended in README.md; an immutable tag is the minimum
  #checkov:skip=CKV_K8S_15:with immutable tags IfNotPresent pulls each tag once; image_pull_policy lets an operator choose Always
  metadata {
    name      = "${var.name}-http"
    namespace = local.namespace
    labels    = merge(local.labels, local.selector.http)
  }

  spec {
    replicas = var.http_replicas_min

    selector {
      match_labels = local.selector.http
    }

    strategy {
      type = "RollingUpdate"
      rolling_update {
        max_surge       = "25%"
        max_unavailable = "0"
      }
    }

    template {
      metadata {
        labels      = merge(local.labels, local.selector.http)
        annotations = local.config_checksums
      }

      spec {
        termination_grace_period_seconds = 30

        security_context {
          run_as_non_root = true
          run_as_user     = local.uid
          run_as_group    = local.uid
          fs_group        = local.uid
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        dynamic "image_pull_secrets" {
          for_each = var.image_pull_secrets
          content {
            name = image_pull_secrets.value
          }
        }

        # Spread over zones and nodes where the cluster has them.
        topology_spread_constraint {
          max_skew           = 1
          topology_key       = "topology.kubernetes.io/zone"
          when_unsatisfiable = "ScheduleAnyway"
          label_selector {
            match_labels = local.selector.http
          }
        }
        topology_spread_constraint {
          max_skew           = 1
          topology_key       = "kubernetes.io/hostname"
          when_unsatisfiable = "ScheduleAnyway"
          label_selector {
            match_labels = local.selector.http
          }
        }

        container {
          name              = "http"
          image             = var.image
          image_pull_policy = var.image_pull_policy
          args = [
            "serve", "--host", "0.0.0.0", "--port", "8000",
            "--workers", tostring(var.http_workers),
          ]

          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.idnest.metadata[0].name
            }
          }
          env_from {
            secret_ref {
              name = kubernetes_secret_v1.idnest.metadata[0].name
            }
          }
          env {
            name  = "IDNEST_WIRE_ENABLED"
            value = "false"
          }

          port {
            name           = "http"
            container_port = 8000
            protocol       = "TCP"
          }

          # /readyz: the database and Redis answer and the invalidation subscription is
          # live; a pod that loses them leaves the Service until they are back.
          readiness_probe {
            http_get {
              path = "/readyz"
              port = "http"
            }
            period_seconds    = 5
            timeout_seconds   = 3
            failure_threshold = 3
          }
          # /healthz: the process answers. Not /readyz: a database outage must not
          # restart every pod at once.
          liveness_probe {
            http_get {
              path = "/healthz"
              port = "http"
            }
            period_seconds    = 10
            timeout_seconds   = 3
            failure_threshold = 6
          }
          startup_probe {
            http_get {
              path = "/healthz"
              port = "http"
            }
            period_seconds    = 5
            failure_threshold = 60
          }

          # Let the ingress controller drop the endpoint before Hypercorn stops.
          lifecycle {
            pre_stop {
              exec {
                command = ["sleep", "5"]
              }
            }
          }

          resources {
            requests = var.http_resources.requests
            limits   = var.http_resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "var"
            mount_path = local.var_dir
          }
          volume_mount {
            name       = "wire-key"
            mount_path = local.wire_key_dir
            read_only  = true
          }
          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
          # Directories of IDNEST_VAR_DIR on volumes of their own (exports, escrow).
          dynamic "volume_mount" {
            for_each = var.extra_volume_claims
            content {
              name       = "extra-${volume_mount.key}"
              mount_path = "${local.var_dir}/${volume_mount.key}"
            }
          }
        }

        volume {
          name = "var"
          persistent_volume_claim {
            claim_name = kubernetes_persistent_volume_claim_v1.var.metadata[0].name
          }
        }
        volume {
          name = "wire-key"
          secret {
            secret_name  = kubernetes_secret_v1.wire_key.metadata[0].name
            default_mode = "0440"
          }
        }
        volume {
          name = "tmp"
          empty_dir {}
        }
        dynamic "volume" {
          for_each = var.extra_volume_claims
          content {
            name = "extra-${volume.key}"
            persistent_volume_claim {
              claim_name = volume.value
            }
          }
        }
      }
    }
  }

  # The autoscaler owns the replica count after creation.
  lifecycle {
    ignore_changes = [spec[0].replicas]
  }

  depends_on = [kubernetes_job_v1.migrate]
}

resource "kubernetes_horizontal_pod_autoscaler_v2" "http" {
  metadata {
    name      = "${var.name}-http"
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    min_replicas = var.http_replicas_min
    max_replicas = var.http_replicas_max

    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = kubernetes_deployment_v1.http.metadata[0].name
    }

    metric {
      type = "Resource"
      resource {
        name = "cpu"
        target {
          type                = "Utilization"
          average_utilization = var.http_cpu_target
        }
      }
    }
  }
}

resource "kubernetes_pod_disruption_budget_v1" "http" {
  metadata {
    name      = "${var.name}-http"
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    max_unavailable = "1"
    selector {
      match_labels = local.selector.http
    }
  }
}

resource "kubernetes_service_v1" "http" {
  metadata {
    name      = "${var.name}-http"
    namespace = local.namespace
    labels    = merge(local.labels, local.selector.http)
  }

  spec {
    type     = "ClusterIP"
    selector = local.selector.http

    port {
      name        = "http"
      port        = 80
      target_port = "http"
      protocol    = "TCP"
    }
  }
}

resource "kubernetes_ingress_v1" "http" {
  metadata {
    name        = "${var.name}-http"
    namespace   = local.namespace
    labels      = local.labels
    annotations = var.ingress_annotations
  }

  spec {
    ingress_class_name = var.ingress_class_name

    dynamic "tls" {
      for_each = var.ingress_tls_secret_name != "" ? [var.ingress_tls_secret_name] : []
      content {
        hosts       = [var.ingress_host]
        secret_name = tls.value
      }
    }

    rule {
      host = var.ingress_host
      http {
        path {
          path      = "/"
          path_type = "Prefix"
          backend {
            service {
              name = kubernetes_service_v1.http.metadata[0].name
              port {
                name = "http"
              }
            }
          }
        }
      }
    }
  }
}
