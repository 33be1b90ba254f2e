# Dramatiq workers: `idnest worker` runs bulk jobs and the periodic jobs the scheduler
# in `idnest serve` sends (docs/scheduling.md). They read bulk uploads from the shared
# volume, so they mount it like the HTTP pods.

resource "kubernetes_deployment_v1" "worker" {
  #checkov:skip=CKV_K8S_14:the image is var.image, which checkov cannot resolve; README.md requires an immutable tag (a new tag is a new migration Job)
  #checkov:skip=CKV_K8S_43:a digest is allowed in var.image and recommended in README.md; an immutable tag is the minimum
  #checkov:skip=CKV_K8S_15:with immutable tags IfNotPresent pulls each tag once; image_pull_policy lets an operator choose Always
  #checkov:skip=CKV_K8S_8:a Dramatiq worker serves no port to probe; a hung worker is caught by the job leases (docs/scheduling.md) and the message time limits
  #checkov:skip=CKV_K8S_9:a worker takes no traffic from a Service, so readiness gates nothing
  metadata {
    name      = "${var.name}-worker"
    namespace = local.namespace
    labels    = merge(local.labels, local.selector.worker)
  }

  spec {
    replicas = var.worker_replicas

    selector {
      match_labels = local.selector.worker
    }

    template {
      metadata {
        labels      = merge(local.labels, local.selector.worker)
        annotations = local.config_checksums
      }

      spec {
        # SIGTERM makes Dramatiq stop taking messages and wait for the ones in hand.
        # A bulk job is one long message written in committed chunks: a worker killed
        # mid-job loses only the chunk in flight (its transaction rolls back), and the
        # job is delivered again or re-driven from its cursor (IDNEST_BULK_STALL_SECONDS).
        termination_grace_period_seconds = var.worker_termination_grace_seconds

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

        container {
          name              = "worker"
          image             = var.image
          image_pull_policy = var.image_pull_policy
          args = [
            "worker",
            "--processes", tostring(var.worker_processes),
            "--threads", tostring(var.worker_threads),
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

          resources {
            requests = var.worker_resources.requests
            limits   = var.worker_resources.limits
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
          # IDNEST_WIRE_KEY_FILE names it in every pod; jobs that build HS_SITE need it.
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

  depends_on = [kubernetes_job_v1.migrate]
}
