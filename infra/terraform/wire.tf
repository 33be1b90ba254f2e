# The Handle wire-protocol tier (docs/wire.md): `idnest resolver` answering UDP and TCP
# on port 2641, stateless, behind a dual-stack (IPv4 + IPv6) LoadBalancer Service.

locals {
  # One Service with both protocols, or (wire_split_services) one per protocol.
  wire_services = var.wire_split_services ? {
    udp = ["UDP"]
    tcp = ["TCP"]
  } : { all = ["UDP", "TCP"] }
}

resource "kubernetes_deployment_v1" "wire" {
  #checkov:skip=CKV_K8S_14:the image is var.image, which checkov cannot resolve; README.md requires an immutable tag (a new tag is a new migration Job)
  #checkov:skip=CKV_K8S_43:a digest is allowed in var.image and recommended in README.md; an immutable tag is the minimum
  #checkov:skip=CKV_K8S_15:with immutable tags IfNotPresent pulls each tag once; image_pull_policy lets an operator choose Always
  metadata {
    name      = "${var.name}-wire"
    namespace = local.namespace
    labels    = merge(local.labels, local.selector.wire)
  }

  spec {
    replicas = var.wire_replicas_min

    selector {
      match_labels = local.selector.wire
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
        labels      = merge(local.labels, local.selector.wire)
        annotations = local.config_checksums
      }

      spec {
        termination_grace_period_seconds = 30

        security_context {
          run_as_non_root = true
          run_as_user     = local.uid
          run_as_group    = local.uid
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

        topology_spread_constraint {
          max_skew           = 1
          topology_key       = "topology.kubernetes.io/zone"
          when_unsatisfiable = "ScheduleAnyway"
          label_selector {
            match_labels = local.selector.wire
          }
        }
        topology_spread_constraint {
          max_skew           = 1
          topology_key       = "kubernetes.io/hostname"
          when_unsatisfiable = "ScheduleAnyway"
          label_selector {
            match_labels = local.selector.wire
          }
        }

        container {
          name              = "resolver"
          image             = var.image
          image_pull_policy = var.image_pull_policy
          # IDNEST_WIRE_HOST stays "::": 0.0.0.0 and :: as two sockets, the IPv6 one
          # skipped with a warning where the pod has no IPv6.
          args = ["resolver", "--processes", tostring(var.wire_processes)]

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

          port {
            name           = "handle-udp"
            container_port = var.wire_port
            protocol       = "UDP"
          }
          port {
            name           = "handle-tcp"
            container_port = var.wire_port
            protocol       = "TCP"
          }

          # The listener binds only after the database and the bus are up, so an open
          # TCP port means the process is serving.
          readiness_probe {
            tcp_socket {
              port = var.wire_port
            }
            period_seconds    = 5
            timeout_seconds   = 2
            failure_threshold = 3
          }
          liveness_probe {
            tcp_socket {
              port = var.wire_port
            }
            initial_delay_seconds = 30
            period_seconds        = 10
            timeout_seconds       = 3
            failure_threshold     = 6
          }

          lifecycle {
            pre_stop {
              exec {
                command = ["sleep", "5"]
              }
            }
          }

          resources {
            requests = var.wire_resources.requests
            limits   = var.wire_resources.limits
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
        }

        # Resolvers keep nothing: the key comes from the Secret, records from PostgreSQL.
        volume {
          name = "var"
          empty_dir {}
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
      }
    }
  }

  lifecycle {
    ignore_changes = [spec[0].replicas]
  }

  depends_on = [kubernetes_job_v1.migrate]
}

resource "kubernetes_horizontal_pod_autoscaler_v2" "wire" {
  metadata {
    name      = "${var.name}-wire"
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    min_replicas = var.wire_replicas_min
    max_replicas = var.wire_replicas_max

    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = kubernetes_deployment_v1.wire.metadata[0].name
    }

    metric {
      type = "Resource"
      resource {
        name = "cpu"
        target {
          type                = "Utilization"
          average_utilization = var.wire_cpu_target
        }
      }
    }
  }
}

resource "kubernetes_pod_disruption_budget_v1" "wire" {
  metadata {
    name      = "${var.name}-wire"
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    max_unavailable = "1"
    selector {
      match_labels = local.selector.wire
    }
  }
}

# The public door of port 2641. It does not depend on the Deployment: the ConfigMap
# reads its addresses (IDNEST_WIRE_ADDRESSES for HS_SITE), and the pods read the
# ConfigMap.
resource "kubernetes_service_v1" "wire" {
  for_each = local.wire_services

  metadata {
    name        = each.key == "all" ? "${var.name}-wire" : "${var.name}-wire-${each.key}"
    namespace   = local.namespace
    labels      = merge(local.labels, local.selector.wire)
    annotations = var.wire_service_annotations
  }

  spec {
    type     = "LoadBalancer"
    selector = local.selector.wire

    # IPv4 and IPv6, as the guideline requires; a single-stack cluster refuses
    # RequireDualStack, so wire_dual_stack = false asks for IPv4 only.
    ip_families      = var.wire_dual_stack ? ["IPv4", "IPv6"] : ["IPv4"]
    ip_family_policy = var.wire_dual_stack ? "RequireDualStack" : "SingleStack"

    # Local: clients' source addresses reach the pods (the UDP rate limit is per source).
    external_traffic_policy = var.wire_external_traffic_policy

    dynamic "port" {
      for_each = each.value
      content {
        name        = "handle-${lower(port.value)}"
        port        = var.wire_port
        target_port = var.wire_port
        protocol    = port.value
      }
    }
  }

  wait_for_load_balancer = true
}
