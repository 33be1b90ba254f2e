# `idnest migrate` as a Job that must complete before any Deployment is created or
# updated (they depend on it). Every idnest command also migrates at start, under a
# PostgreSQL advisory lock, so this is not the only guard: it makes a failing migration
# stop the apply, before old pods are replaced by new ones that cannot start.
#
# The Job's name carries a hash of the image, so a new image runs a new Job. A finished
# Job is kept (no TTL): Terraform would otherwise see it gone and run it again.
#
# Only this Job gets the owner role's URL (IDNEST_MIGRATION_DATABASE_URL): migrations,
# row-level security and grants run as the owner, and every other pod connects as
# database_url's role, which owns nothing and cannot bypass row-level security.

resource "kubernetes_secret_v1" "migrate" {
  count = var.migration_database_url != "" ? 1 : 0
  metadata {
    name      = "${var.name}-migrate"
    namespace = local.namespace
    labels    = local.labels
  }
  data = {
    IDNEST_MIGRATION_DATABASE_URL = var.migration_database_url
  }
}

resource "kubernetes_job_v1" "migrate" {
  metadata {
    name      = "${var.name}-migrate-${substr(sha256(var.image), 0, 10)}"
    namespace = local.namespace
    labels    = merge(local.labels, { "app.kubernetes.io/component" = "migrate" })
  }

  spec {
    backoff_limit = 3

    template {
      metadata {
        labels = merge(local.labels, { "app.kubernetes.io/component" = "migrate" })
      }

      spec {
        restart_policy = "Never"

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

        container {
          name              = "migrate"
          image             = var.image
          image_pull_policy = var.image_pull_policy
          args              = ["migrate"]

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
          dynamic "env_from" {
            for_each = kubernetes_secret_v1.migrate
            content {
              secret_ref {
                name = env_from.value.metadata[0].name
              }
            }
          }

          resources {
            requests = { cpu = "100m", memory = "256Mi" }
            limits   = { cpu = "1", memory = "512Mi" }
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
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        # The migration needs no shared files: a scratch IDNEST_VAR_DIR.
        volume {
          name = "var"
          empty_dir {}
        }
        volume {
          name = "tmp"
          empty_dir {}
        }
      }
    }
  }

  wait_for_completion = true

  timeouts {
    create = var.migration_timeout
    update = var.migration_timeout
  }
}
