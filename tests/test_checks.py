"""Compose's own consistency checks: one case per rule, located, and judged like the binary."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from oracle import Oracle
from test_validate import errors, load

from composer.checks import check_model, dockerfile_stages
from composer.errors import Location, Problem
from composer.goparse import (
    duration_error,
    parse_port_spec,
    parse_ram_size,
    parse_volume_spec,
    shell_words_error,
)
from composer.validate import validate_model


def checks_of(tmp_path: Path, text: str) -> list[Problem]:
    model, locate, _ = load(tmp_path, text)
    return check_model(model, locate, project_dir=tmp_path)


# (compose file, where, message) for each rule, the reported line marked `# <-`; the binary
# refuses every one of them.
ERROR_CASES = {
    "depends-on-itself": ("""
        services:
          web:
            image: nginx
            depends_on: [web]  # <-
        """, "services.web.depends_on[0]", "dependency cycle detected: web -> web"),
    "depends-on-cycle-through-links": ("""
        services:
          a:
            image: nginx
            depends_on:
              b:  # <-
                condition: service_started
          b:
            image: nginx
            links: [c]
          c:
            image: nginx
            network_mode: service:a
        """, "services.a.depends_on.b", "dependency cycle detected: a -> b -> c -> a"),
    "external-volume-with-driver": ("""
        services: {web: {image: nginx}}
        volumes:
          data:
            external: true
            driver: local  # <-
        """, "volumes.data.driver", 'conflicting parameters "external" and "driver" specified'),
    "config-file-and-content": ("""
        services: {web: {image: nginx}}
        configs:
          app:  # <-
            file: ./app.conf
            content: hello
        """, "configs.app", "file and content are mutually exclusive"),
    "config-without-source": ("""
        services: {web: {image: nginx}}
        configs:
          app:  # <-
            name: app
        """, "configs.app", "one of file|environment|content must be set"),
    "secret-without-source": ("""
        services: {web: {image: nginx}}
        secrets:
          token:  # <-
            name: token
        """, "secrets.token", "one of file|environment must be set"),
    "secret-driver-only": ("""
        services: {web: {image: nginx}}
        secrets:
          token:  # <-
            driver: vault
        """, "secrets.token", "must declare either `file` or `environment`"),
    "depends-on-list": ("""
        services:
          web:
            image: nginx
            depends_on: [db]  # <-
        """, "services.web.depends_on[0]", 'depends on undefined service "db"'),
    "depends-on-mapping": ("""
        services:
          web:
            image: nginx
            depends_on:
              db:  # <-
                condition: service_healthy
                required: false
        """, "services.web.depends_on.db", 'depends on undefined service "db"'),
    "links": ("""
        services:
          web:
            image: nginx
            links: ["db:database"]  # <-
        """, "services.web.links[0]", 'links to undefined service "db"'),
    "network-mode-service": ("""
        services:
          web:
            image: nginx
            network_mode: "service:vpn"  # <-
        """, "services.web.network_mode", 'refers to undefined service "vpn"'),
    "ipc-service": ("""
        services:
          web:
            image: nginx
            ipc: "service:shm"  # <-
        """, "services.web.ipc", 'refers to undefined service "shm"'),
    "volumes-from": ("""
        services:
          web:
            image: nginx
            volumes_from: ["data:ro"]  # <-
        """, "services.web.volumes_from[0]", 'refers to undefined service "data"'),
    "network-list": ("""
        services:
          web:
            image: nginx
            networks: [default, back]  # <-
        """, "services.web.networks[1]", "refers to undefined network back"),
    "network-mapping": ("""
        services:
          web:
            image: nginx
            networks:
              back:  # <-
                aliases: [w]
        """, "services.web.networks.back", "refers to undefined network back"),
    "network-mode-and-networks": ("""
        services:
          web:
            image: nginx
            network_mode: host
            networks: [default]  # <-
        """, "services.web.networks", "`network_mode` and `networks` are mutually exclusive"),
    "volume-short": ("""
        services:
          web:
            image: nginx
            volumes: ["data:/var/lib/data", "./conf:/etc/conf", "/cache"]  # <-
        """, "services.web.volumes[0]", "refers to undefined volume data"),
    "volume-long": ("""
        services:
          web:
            image: nginx
            volumes:
              - type: volume  # <-
                source: data
                target: /data
        """, "services.web.volumes[0]", "refers to undefined volume data"),
    "secret": ("""
        services:
          web:
            image: nginx
            secrets: [token]  # <-
        """, "services.web.secrets[0]", "refers to undefined secret token"),
    "config-long": ("""
        services:
          web:
            image: nginx
            configs:
              - source: app  # <-
                target: /etc/app
        """, "services.web.configs[0].source", "refers to undefined config app"),
    "build-secret": ("""
        services:
          web:
            build:
              context: .
              secrets: [npmrc]  # <-
        """, "services.web.build.secrets[0]", "refers to undefined build secret npmrc"),
    "model": ("""
        services:
          web:
            image: nginx
            models: [llm]  # <-
        """, "services.web.models[0]", "refers to undefined model llm"),
    "additional-context-unknown": ("""
        services:
          web:
            build:
              context: .
              additional_contexts:
                base: "service:base"  # <-
        """, "services.web.build.additional_contexts.base",
        'additional context base refers to unknown service "base"'),
    "additional-context-not-buildable": ("""
        services:
          web:
            build:
              context: .
              additional_contexts: ["base=service:base"]  # <-
          base:
            image: alpine
        """, "services.web.build.additional_contexts[0]",
        'additional context base refers to non-buildable service "base"'),
    "additional-context-null": ("""
        services:
          web:
            build:
              context: .
              additional_contexts:
                base: null  # <-
        """, "services.web.build.additional_contexts.base",
        "additional context base needs a path or URL, got null"),
    "additional-context-number": ("""
        services:
          web:
            build:
              context: .
              additional_contexts:
                base: 5  # <-
        """, "services.web.build.additional_contexts.base",
        "additional context base needs a path or URL, got 5"),
    "additional-context-not-key-value": ("""
        services:
          web:
            build:
              context: .
              additional_contexts:
                - app=docker-image://app:1
                - "app:1"  # <-
        """, "services.web.build.additional_contexts[1]",
        "invalid value app:1, expected key=value"),
    "device-mapping-with-four-parts": ("""
        services:
          web:
            image: nginx
            devices:
              - /dev/sda:/dev/xvda:rwm:extra  # <-
        """, "services.web.devices[0]",
        "confusing device mapping, please use long syntax: /dev/sda:/dev/xvda:rwm:extra"),
    "ssh-key-without-path": ("""
        services:
          web:
            build:
              context: .
              ssh:
                - deploy_key  # <-
        """, "services.web.build.ssh[0]", 'invalid ssh key "deploy_key"'),
    "name-and-external-name-differ": ("""
        services: {web: {image: nginx}}
        networks:
          edge:
            name: edge-prod
            external:
              name: edge  # <-
        """, "networks.edge.external.name", "name and external.name conflict; only use name"),
    "external-name-mapping-with-driver": ("""
        services: {web: {image: nginx}}
        volumes:
          data:
            driver: local  # <-
            external: {}
        """, "volumes.data.driver", 'conflicting parameters "external" and "driver" specified'),
    "no-image-no-build": ("""
        services:
          web:  # <-
            environment: {A: "1"}
        """, "services.web", "has neither an image nor a build context specified"),
    "dockerfile-and-inline": ("""
        services:
          web:
            build:  # <-
              context: .
              dockerfile: Dockerfile
              dockerfile_inline: "FROM alpine"
        """, "services.web.build", "dockerfile and dockerfile_inline are mutually exclusive"),
    "platform-not-built": ("""
        services:
          web:
            platform: linux/amd64  # <-
            build:
              context: .
              platforms: [linux/arm64]
        """, "services.web.platform", 'build.platforms must include platform "linux/amd64"'),
    "healthcheck-test": ("""
        services:
          web:
            image: nginx
            healthcheck:
              test: [curl, -f, http://localhost]  # <-
        """, "services.web.healthcheck.test[0]",
        'healthcheck.test must start with "CMD", "CMD-SHELL" or "NONE"'),
    "scale-and-replicas": ("""
        services:
          web:
            image: nginx
            scale: 2  # <-
            deploy: {replicas: 3}
        """, "services.web.scale",
        "can't set distinct values on 'scale' (2) and 'deploy.replicas' (3)"),
    "negative-scale": ("""
        services:
          web:
            image: nginx
            scale: -1  # <-
        """, "services.web.scale", "must be greater than or equal to 0"),
    "container-name-and-replicas": ("""
        services:
          web:
            image: nginx
            container_name: web  # <-
            deploy: {replicas: 2}
        """, "services.web.container_name",
        "can't set container_name with deploy.replicas 2: container names must be unique"),
    "cpus-and-limits": ("""
        services:
          web:
            image: nginx
            cpus: 1.5  # <-
            deploy: {resources: {limits: {cpus: "2"}}}
        """, "services.web.cpus",
        "can't set distinct values on 'cpus' (1.5) and 'deploy.resources.limits.cpus' ('2')"),
    "mem-limit-and-limits-without-memory": ("""
        services:
          web:
            image: nginx
            mem_limit: 1g  # <-
            deploy: {resources: {limits: {cpus: "1"}}}
        """, "services.web.mem_limit",
        "can't set distinct values on 'mem_limit' ('1g') and "
        "'deploy.resources.limits.memory' (unset)"),
    "watch-without-target": ("""
        services:
          web:
            image: nginx
            develop:
              watch:
                - path: ./src  # <-
                  action: sync
        """, "services.web.develop.watch[0]", 'target is required for action "sync"'),
    "watch-blank-path": ("""
        services:
          web:
            image: nginx
            develop:
              watch:
                - path: ""  # <-
                  action: rebuild
        """, "services.web.develop.watch[0].path", "value can't be blank"),
    "tmpfs-and-volume": ("""
        services:
          web:
            image: nginx
            tmpfs: ["/run:size=64m"]
            volumes: ["./run/:/run/"]  # <-
        """, "services.web.volumes[0]", "target /run already mounted by tmpfs[0]"),
    "port-container": ("""
        services:
          web:
            image: nginx
            ports: ["8080:http"]  # <-
        """, "services.web.ports[0]", "invalid containerPort: http"),
    "port-host": ("""
        services:
          web:
            image: nginx
            ports: ["70000:80"]  # <-
        """, "services.web.ports[0]", "invalid hostPort: 70000"),
    "port-ip": ("""
        services:
          web:
            image: nginx
            ports: ["1.2.3:80:80"]  # <-
        """, "services.web.ports[0]", "invalid IP address: 1.2.3"),
    "port-proto": ("""
        services:
          web:
            image: nginx
            ports: ["80/icmp"]  # <-
        """, "services.web.ports[0]", "invalid proto: icmp"),
    "port-ranges": ("""
        services:
          web:
            image: nginx
            ports: ["8000-8002:80-81"]  # <-
        """, "services.web.ports[0]",
        "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"),
    "port-float": ("""
        services:
          web:
            image: nginx
            ports: [80.0]  # <-
        """, "services.web.ports[0]",
        'invalid port: use an integer or a "host:container" string'),
    "port-host-ip-long": ("""
        services:
          web:
            image: nginx
            ports:
              - target: 80
                host_ip: localhost  # <-
        """, "services.web.ports[0].host_ip", "invalid ip address: localhost"),
    "port-without-target": ("""
        services:
          web:
            image: nginx
            ports:
              - published: "8080"  # <-
        """, "services.web.ports[0]", "missing a target port"),
    "bind-without-source": ("""
        services:
          web:
            image: nginx
            volumes:
              - type: bind  # <-
                target: /data
        """, "services.web.volumes[0]", 'a "bind" mount needs a source'),
    "volume-spec": ("""
        services:
          web:
            image: nginx
            volumes: ["/a:/b:ro:z"]  # <-
        """, "services.web.volumes[0]", "invalid spec: /a:/b:ro:z: too many colons"),
    "gpus-count-and-ids": ("""
        services:
          web:
            image: nginx
            gpus:
              - count: 1  # <-
                device_ids: ["0"]
        """, "services.web.gpus[0]", '"count" and "device_ids" are exclusive'),
    "size": ("""
        services:
          web:
            image: nginx
            mem_limit: lots  # <-
        """, "services.web.mem_limit",
        "invalid size 'lots': use a number of bytes or a value like 512m or 2g"),
    "deploy-memory": ("""
        services:
          web:
            image: nginx
            deploy:
              resources:
                reservations:
                  memory: 1gig  # <-
        """, "services.web.deploy.resources.reservations.memory",
        "invalid size '1gig': use a number of bytes or a value like 512m or 2g"),
    "duration-unit": ("""
        services:
          web:
            image: nginx
            healthcheck:
              interval: 5parsecs  # <-
        """, "services.web.healthcheck.interval",
        "invalid duration '5parsecs': unknown unit 'parsecs'"),
    "duration": ("""
        services:
          web:
            image: nginx
            stop_grace_period: soon  # <-
        """, "services.web.stop_grace_period",
        "invalid duration 'soon': use a value like 30s, 1m30s or 2h"),
    "cpus-string": ("""
        services:
          web:
            image: nginx
            deploy: {resources: {limits: {cpus: half}}}  # <-
        """, "services.web.deploy.resources.limits.cpus", "invalid number of CPUs 'half'"),
    "negative-retries": ("""
        services:
          web:
            image: nginx
            healthcheck:
              retries: -1  # <-
        """, "services.web.healthcheck.retries", "must not be negative, got -1"),
    "extra-host-without-ip": ("""
        services:
          web:
            image: nginx
            extra_hosts: ["db:10.0.0.2", "cache"]  # <-
        """, "services.web.extra_hosts[1]", "invalid additional host, missing IP: cache"),
    "extra-host-bad-name": ("""
        services:
          web:
            image: nginx
            build:
              context: .
              extra_hosts:
                "a:b": 10.0.0.2  # <-
        """, "services.web.build.extra_hosts.a:b", "bad host name 'a:b'"),
    "secret-without-source-entry": ("""
        services:
          web:
            image: nginx
            secrets:
              - target: /run/token  # <-
        secrets:
          token: {file: ./token}
        """, "services.web.secrets[0]", "a secret needs a source"),
    "boolean-string": ("""
        services:
          web:
            image: nginx
            volumes:
              - type: bind
                source: ./data
                target: /data
                bind:
                  create_host_path: maybe  # <-
        """, "services.web.volumes[0].bind.create_host_path", "invalid boolean 'maybe'"),
    "device-count": ("""
        services:
          web:
            image: nginx
            gpus:
              - count: some  # <-
        """, "services.web.gpus[0].count", "invalid count 'some': use 'all' or a number"),
    "published-float": ("""
        services:
          web:
            image: nginx
            ports:
              - target: 80
                published: 8080.0  # <-
        """, "services.web.ports[0].published", "expected a string or integer, got 8080.0"),
    "environment-name-trailing-space": ("""
        services:
          web:
            image: nginx
            environment:
              - "DEBUG =1"  # <-
        """, "services.web.environment[0]",
        "environment variable 'DEBUG ' is declared with a trailing space"),
    "hook-variable-name-trailing-space": ("""
        services:
          web:
            image: nginx
            pre_stop:
              - command: [sh, -c, drain]
                environment: ["GRACE "]  # <-
        """, "services.web.pre_stop[0].environment[0]",
        "environment variable 'GRACE ' is declared with a trailing space"),
    "build-arg-name-trailing-tab": ("""
        services:
          web:
            build:
              context: .
              args: ["VERSION\t=1.2"]  # <-
        """, "services.web.build.args[0]",
        "environment variable 'VERSION\\t' is declared with a trailing space"),
    "command-unclosed-quote": ("""
        services:
          web:
            image: nginx
            command: "echo 'hello"  # <-
        """, "services.web.command",
        "invalid command line string: an unclosed single quote (Compose splits it into words "
        "like a shell; use a list to pass it as it is)"),
    "entrypoint-parenthesis": ("""
        services:
          web:
            image: nginx
            entrypoint: "run (fast)"  # <-
        """, "services.web.entrypoint",
        "invalid command line string: '(' outside of '$(...)' (Compose splits it into words "
        "like a shell; use a list to pass it as it is)"),
    "hook-command-trailing-backslash": ("""
        services:
          web:
            image: nginx
            post_start:
              - command: 'echo done \\'  # <-
        """, "services.web.post_start[0].command",
        "invalid command line string: a trailing backslash (Compose splits it into words "
        "like a shell; use a list to pass it as it is)"),
    "watch-exec-command-backquote": ("""
        services:
          web:
            image: nginx
            develop:
              watch:
                - path: ./src
                  action: sync+exec
                  target: /src
                  exec:
                    command: "echo `date"  # <-
        """, "services.web.develop.watch[0].exec.command",
        "invalid command line string: an unclosed backquote (Compose splits it into words "
        "like a shell; use a list to pass it as it is)"),
    "tmpfs-mode-string": ("""
        services:
          web:
            image: nginx
            volumes:
              - type: tmpfs
                target: /cache
                tmpfs:
                  mode: "1777"  # <-
        """, "services.web.volumes[0].tmpfs.mode",
        "expected an integer, got '1777': write the mode unquoted, e.g. 0755"),
    "secret-mode-not-octal": ("""
        services:
          web:
            image: nginx
            secrets:
              - source: token
                mode: "0644"
              - source: token
                target: /run/other
                mode: "0o440"  # <-
        secrets:
          token: {file: ./token}
        """, "services.web.secrets[1].mode",
        "invalid file mode '0o440': use octal digits, e.g. 0440"),
    "generic-resource-value": ("""
        services:
          web:
            image: nginx
            deploy:
              resources:
                reservations:
                  generic_resources:
                    - discrete_resource_spec:
                        kind: gpu
                        value: two  # <-
        """,
        "services.web.deploy.resources.reservations.generic_resources[0]"
        ".discrete_resource_spec.value", "invalid integer 'two'"),
    "group-add-float": ("""
        services:
          web:
            image: nginx
            group_add: [wheel, 100.0]  # <-
        """, "services.web.group_add[1]", "expected a string or integer, got 100.0"),
    "storage-opt-boolean": ("""
        services:
          web:
            image: nginx
            storage_opt:
              size: 20G
              sparse: true  # <-
        """, "services.web.storage_opt.sparse", "expected a string or integer, got true"),
    "ulimit-float": ("""
        services:
          web:
            image: nginx
            ulimits:
              nproc: 65535
              nofile: 1024.0  # <-
        """, "services.web.ulimits.nofile",
        "expected an integer or a mapping, got 1024.0"),
    "env-file-empty-path": ("""
        services:
          web:
            image: nginx
            env_file: ""  # <-
        """, "services.web.env_file", "env file  not found"),
    "label-file-empty-path-in-a-list": ("""
        services:
          web:
            image: nginx
            label_file:
              - ""  # <-
        """, "services.web.label_file[0]", "label file  not found"),
    "ulimit-of-any-name-false": ("""
        services:
          web:
            image: nginx
            ulimits:
              max_locked: false  # <-
        """, "services.web.ulimits.max_locked",
        "expected an integer or a mapping, got false"),
    "ulimit-of-any-name-soft-true": ("""
        services:
          web:
            image: nginx
            ulimits:
              max_locked:
                soft: true  # <-
                hard: 1
        """, "services.web.ulimits.max_locked.soft", "expected an integer, got true"),
    "build-ulimit-soft-string": ("""
        services:
          web:
            build:
              context: .
              ulimits:
                nofile:
                  soft: "1024"  # <-
                  hard: 2048
        """, "services.web.build.ulimits.nofile.soft", "expected an integer, got '1024'"),
    "gpus-count-float": ("""
        services:
          web:
            image: nginx
            gpus:
              - driver: nvidia
                count: 1.0  # <-
        """, "services.web.gpus[0].count", "invalid count 1.0: use 'all' or an integer"),
    "secret-driver-opt-float": ("""
        services: {web: {image: nginx}}
        secrets:
          token:
            file: ./token
            driver_opts:
              ratio: 0.5  # <-
        """, "secrets.token.driver_opts.ratio", "expected a string or integer, got 0.5"),
}


def _marked_line(text: str) -> int:
    lines = textwrap.dedent(text).lstrip("\n").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.endswith("# <-"))


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_rule_is_reported_where_it_is_broken(tmp_path: Path, name: str) -> None:
    text, where, message = ERROR_CASES[name]
    line = _marked_line(text)
    problems = checks_of(tmp_path, text)
    assert [(p.where, p.message, p.severity) for p in problems] == [(where, message, "error")]
    assert problems[0].location == Location(tmp_path / "compose.yml", line,
                                            problems[0].location.column)
    assert problems[0].render(tmp_path).startswith(f"compose.yml:{line}:")


VALID_CASES = {
    "references": """
        services:
          web:
            image: nginx
            depends_on:
              db: {condition: service_healthy}
            links: [db]
            networks: [default, back]
            volumes: ["data:/data", "./conf:/conf:ro", "/anonymous", "C:/win:/win"]
            volumes_from: ["container:other", "db:ro"]
            secrets: [token, {source: token, target: /run/t}]
            configs: [app]
            ipc: "service:db"
            ports: ["8080:80", "127.0.0.1:8443:443/tcp", "9000-9001:9000-9001", 53, "53/udp"]
            healthcheck: {test: "curl -f http://localhost", interval: 1m30s, retries: 3}
            stop_grace_period: 1d
            mem_limit: 512m
            deploy:
              replicas: 2
              resources:
                limits: {memory: 512MiB, cpus: "0.5"}
          db:
            image: postgres
            build:
              context: .
              additional_contexts: {web: "service:app"}
          app:
            build: .
        networks:
          back: {}
        volumes:
          data: {external: true, name: shared}
        secrets:
          token: {environment: TOKEN}
        configs:
          app: {content: "x=1"}
        """,
    "same-values-twice": """
        services:
          web:
            image: nginx
            scale: 2
            cpus: 1.5
            mem_limit: 1g
            pids_limit: 100
            deploy:
              replicas: 2
              resources:
                limits: {cpus: "1.5", memory: 1024m, pids: 100}
        """,
    "tmpfs-duplicates-merged": """
        services:
          web:
            image: nginx
            tmpfs: [/run, /run]
            volumes: ["/host:/data", "/other:/data"]
        """,
    "network-mode-without-networks": """
        services:
          web:
            image: nginx
            network_mode: host
            networks: {}
        """,
    "external-secret-and-file": """
        services:
          web:
            image: nginx
        secrets:
          token: {external: true, file: ./token}
        volumes:
          data: {external: true, name: data, x-note: kept}
        """,
    "device-mappings": """
        services:
          web:
            image: nginx
            devices: ["/dev/sda", "/dev/sda:/dev/xvda", "/dev/sdb:/dev/xvdb:r"]
        """,
    "variable-names": """
        services:
          web:
            image: nginx
            environment: ["DEBUG= 1", "EMPTY=", "FROM_HOST", "SPACED=a b "]
            build:
              context: .
              args: ["RELEASE ", "VERSION=1 "]
        """,
    "command-strings": """
        services:
          web:
            image: nginx
            command: sh -c 'echo "$$(date)" && ls (x' "|" '&&' \\; done\\>
            entrypoint: ["echo 'not split"]
            post_start:
              - command: echo "a \\"quoted\\" word" $$(id -u) `hostname`
            pre_stop:
              - command: ["sh", "-c", "kill (1"]
        """,
    "decoded-modes-and-counts": """
        services:
          web:
            image: nginx
            group_add: [wheel, 100]
            storage_opt: {size: 20G, count: 2, unset: null}
            secrets: [{source: token, mode: "0440"}, {source: token, target: /t, mode: 0400}]
            volumes: [{type: tmpfs, target: /cache, tmpfs: {mode: 01777}}]
            ulimits: {nofile: {soft: "1024", hard: 2048}, nproc: "512"}
            gpus: [{count: ALL}]
            deploy:
              resources:
                reservations:
                  devices: [{capabilities: [gpu], count: "+2"}]
                  generic_resources:
                    - discrete_resource_spec: {kind: gpu, value: "2"}
        secrets:
          token: {file: ./token, driver_opts: {ratio: "0.5", count: 2}}
        """,
}


def test_ssh_keys_name_a_path_except_default(tmp_path: Path) -> None:
    # The binary accepts these too, but cannot print build.ssh as JSON to be compared.
    text = "services: {web: {build: {context: ., ssh: [default, deploy=~/.ssh/id_deploy]}}}"
    assert checks_of(tmp_path, text) == []


@pytest.mark.parametrize("name", sorted(VALID_CASES))
def test_consistent_model_has_no_findings(tmp_path: Path, name: str) -> None:
    assert checks_of(tmp_path, VALID_CASES[name]) == []


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    problems = checks_of(tmp_path, """
        services:
          web:
            depends_on: [db, cache]
            networks: [back]
        """)
    assert [p.where for p in problems] == [
        "services.web", "services.web.depends_on[0]", "services.web.depends_on[1]",
        "services.web.networks[0]"]


def test_same_model_twice_gives_the_same_list(tmp_path: Path) -> None:
    model, locate, _ = load(tmp_path, """
        services:
          b: {depends_on: [x], ports: ["80:80"], restart: sometimes}
          a: {image: n, ports: ["80:80"], mem_limit: lots}
          c: {image: n, ports: ["80:80"], mem_limit: lots}
        """)
    first = check_model(model, locate, project_dir=tmp_path)
    assert first == check_model(model, locate, project_dir=tmp_path)
    assert len(first) == 7


# --------------------------------------------------------------------------- warnings


def test_unknown_restart_policy_is_a_warning(tmp_path: Path) -> None:
    problems = checks_of(tmp_path, """
        services:
          web:
            image: nginx
            restart: sometimes
          ok:
            image: nginx
            restart: "on-failure:3"
        """)
    assert [(p.where, p.severity, p.location.line) for p in problems] == [
        ("services.web.restart", "warning", 4)]
    assert problems[0].message.startswith(
        """'sometimes' is not one of "no", "always", "on-failure[:N]", "unless-stopped\"""")


def test_host_port_published_twice_is_a_warning_naming_the_first(tmp_path: Path) -> None:
    problems = checks_of(tmp_path, """
        services:
          api:
            image: api
            ports: ["8080:80"]
          web:
            image: web
            ports:
              - target: 81
                published: 8080
        """)
    assert [(p.where, p.severity, p.location.line) for p in problems] == [
        ("services.web.ports[0]", "warning", 8)]
    message = problems[0].message
    assert message.startswith("host port 8080/tcp is already published by services.api.ports[0]")
    assert "compose.yml:4:" in message  # where the first one is


@pytest.mark.parametrize(("first", "second", "clash"), [
    ('"8080:80"', '"8080:80/udp"', False),
    ('"127.0.0.1:8080:80"', '"127.0.0.2:8080:80"', False),
    ('"127.0.0.1:8080:80"', '"8080:80"', True),
    ('"0.0.0.0:8080:80"', '"127.0.0.1:8080:81"', True),
    ('"0.0.0.0:8080:80"', '"[::1]:8080:81"', False),
    ('"8000-8010:80-90"', '"8005:80"', True),
    ('"8000-8010:80"', '"8005:80"', False),
    ("80", "80", False),
    ('"8080:80"', '"9090:80"', False),
])
def test_host_port_clash_rules(tmp_path: Path, first: str, second: str, clash: bool) -> None:
    problems = checks_of(tmp_path, f"""
        services:
          a: {{image: a, ports: [{first}]}}
          b: {{image: b, ports: [{second}]}}
        """)
    assert [p.where for p in problems] == (["services.b.ports[0]"] if clash else [])


def test_one_service_listing_a_port_twice_is_merged_not_a_clash(tmp_path: Path) -> None:
    assert checks_of(tmp_path, """
        services:
          a: {image: a, ports: ["8080:80", "8080:80"]}
        """) == []


# --------------------------------------------------------------------------- build targets


def _project(tmp_path: Path, dockerfile: str | None, service: str,
             dockerfile_path: str = "Dockerfile") -> list[Problem]:
    if dockerfile is not None:
        target = tmp_path / dockerfile_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(dockerfile), encoding="utf-8")
    text = "services:\n  web:\n" + textwrap.indent(textwrap.dedent(service).strip(), "    ")
    return checks_of(tmp_path, text + "\n")


MULTI_STAGE = """
    # syntax=docker/dockerfile:1
    FROM --platform=$BUILDPLATFORM golang:1.22 AS Build
    RUN go build ./...
    from alpine as runtime
    COPY --from=build /app /app
    """


def test_build_target_absent_from_the_dockerfile(tmp_path: Path) -> None:
    problems = _project(tmp_path, MULTI_STAGE, """
        build:
          context: .
          target: prod
        """)
    assert [(p.where, p.message, p.location.line) for p in problems] == [(
        "services.web.build.target",
        'target stage "prod" not found in Dockerfile (stages: build, runtime)', 5)]


@pytest.mark.parametrize("target", ["build", "BUILD", "runtime"])
def test_build_target_present_any_case(tmp_path: Path, target: str) -> None:
    assert _project(tmp_path, MULTI_STAGE, f"""
        build:
          context: .
          target: {target}
        """) == []


def test_build_target_in_dockerfile_relative_to_context(tmp_path: Path) -> None:
    problems = _project(tmp_path, "FROM alpine AS base\n", """
        build:
          context: app
          dockerfile: docker/Dockerfile.prod
          target: final
        """, dockerfile_path="app/docker/Dockerfile.prod")
    assert [p.message for p in problems] == [
        'target stage "final" not found in Dockerfile.prod (stages: base)']


def test_build_target_without_named_stages(tmp_path: Path) -> None:
    problems = _project(tmp_path, "FROM alpine\n", """
        build:
          context: .
          target: final
        """)
    assert [p.message for p in problems] == [
        'target stage "final" not found in Dockerfile (it has no named stages)']


@pytest.mark.parametrize("service", [
    pytest.param("build: {context: ., target: final}", id="no-dockerfile-on-disk"),
    pytest.param("build: {context: 'https://github.com/o/r.git#main', target: final}",
                 id="remote-context"),
    pytest.param("build: {context: ., dockerfile_inline: 'FROM alpine', target: final}",
                 id="inline-dockerfile"),
])
def test_build_target_is_not_checked_without_a_local_dockerfile(
    tmp_path: Path, service: str
) -> None:
    assert _project(tmp_path, None, service) == []


def test_build_target_skipped_without_project_dir(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine AS base\n", encoding="utf-8")
    model, locate, _ = load(tmp_path, "services: {web: {build: {context: ., target: x}}}")
    assert check_model(model, locate, project_dir=None) == []
    assert len(check_model(model, locate, project_dir=tmp_path)) == 1


def test_dockerfile_stages_follow_the_parser() -> None:
    text = textwrap.dedent("""\
        # escape=`
        ARG BASE=alpine
        FROM $BASE AS One
        FROM `
          alpine `
          # a comment inside the instruction
          AS two
        FROM scratch
        RUN echo FROM x AS not-a-stage
        """)
    assert dockerfile_stages(text) == ["one", "two"]


# --------------------------------------------------------------------------- against the binary


def _verdicts(tmp_path: Path, oracle: Oracle, text: str) -> tuple[list[Problem], int, str]:
    model, locate, path = load(tmp_path, text)
    ours = errors(validate_model(model, locate) + check_model(model, locate, project_dir=tmp_path))
    theirs = oracle.run_config([path.name], cwd=tmp_path, project_name="differential")
    detail = f"ours: {[p.render(tmp_path) for p in ours]}\ntheirs: {theirs.describe()}"
    return ours, theirs.rc, detail


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_binary_refuses_every_error_case(tmp_path: Path, oracle: Oracle, name: str) -> None:
    ours, rc, detail = _verdicts(tmp_path, oracle, ERROR_CASES[name][0])
    assert ours and rc != 0, detail


@pytest.mark.parametrize("name", sorted(VALID_CASES))
def test_binary_accepts_every_valid_case(tmp_path: Path, oracle: Oracle, name: str) -> None:
    ours, rc, detail = _verdicts(tmp_path, oracle, VALID_CASES[name])
    assert not ours and rc == 0, detail


def test_command_cut_at_a_shell_operator_is_a_warning(tmp_path: Path, oracle: Oracle) -> None:
    text = """
        services:
          migrate:
            image: kong
            command: kong migrations up && kong migrations finish
        """
    problems = checks_of(tmp_path, text)
    assert [(p.where, p.severity, p.location.line) for p in problems] == [
        ("services.migrate.command", "warning", 4)]
    assert problems[0].message.startswith(
        "Compose reads this command only up to '&' and drops the rest ('&& kong migrations")
    theirs = oracle.run_config(["compose.yml"], cwd=tmp_path, project_name="cut")
    assert theirs.model is not None, theirs.describe()
    assert theirs.model["services"]["migrate"]["command"] == ["kong", "migrations", "up"]


@pytest.mark.parametrize("text", [
    "services: {web: {image: nginx, restart: sometimes}}",
    "services: {a: {image: a, ports: ['8080:80']}, b: {image: b, ports: ['8080:81']}}",
    "services: {web: {image: nginx}}\nvolumes: {data: {external: {name: shared}}}",
    "services: {web: {image: nginx, entrypoint: 'wait-for db; run'}}",
], ids=["restart", "host-port", "external-name", "command-cut"])
def test_binary_accepts_what_we_only_warn_about(tmp_path: Path, oracle: Oracle, text: str) -> None:
    model, locate, _ = load(tmp_path, text)
    assert [p.severity for p in check_model(model, locate, project_dir=tmp_path)] == ["warning"]
    ours, rc, detail = _verdicts(tmp_path, oracle, text)
    assert not ours and rc == 0, detail


SIZES = ["1", "1g", "1.5g", "512 MiB", "1 gb", "10KB", "1e3", "0x1p4", "-1", "lots", "1gig",
         "10kbb", "1.5.5g", "g", "1 ", "2t", "3P", ".5m"]
DURATIONS = ["5s", "1h30m", "1d", "2w", ".5s", "1.s", "0", "-1s", "+2m", "5", "5parsecs", "soon",
             ".", "", "1s2", "1\u00b5s", "3ns", "1h 2m"]
PORTS = ["80", "8080:80", "127.0.0.1:8080:80", "[::1]:8080:80", "::1:8080:80", "8080:80/UDP",
         "80/xyz", "8000-8010:80", "8000-8010:80-81", "80-79", "1-2-3", ":80", "8080:", "+80",
         "1.2.3:80:80", "80/", "0:0", "0-1:0-1", "0:80", "65536"]
VOLUMES = ["data:/data", "./a:/b:ro", "a::b", "/a:/b:ro:z", "C:\\x:/y", "x:", ":x", "ab", "/a",
           "./${X}:/y", "data:/data:nocopy", "c:/d", "x:y:z:w"]

COMMANDS = ["echo hi", "echo 'a b' \"c d\"", "echo 'x", 'echo "x', "echo \\", "echo \\ x",
            "echo $(id)", "echo $(id", "echo (x)", "echo x)", "echo $((1))", "echo `x`", "echo `x",
            "echo 'a\\' b", 'echo "a\\" b"', "echo x | 'y", "a && b", "echo `\"` x",
            "echo \"$(x)\"", "echo $('x')", "2>&1 'x", "echo \\$(x)", "echo 'it''s'", ""]


def _accepted(tmp_path: Path, oracle: Oracle, key: str, value: object) -> bool:
    """Whether Compose takes the value (with `$` escaped: interpolation is not under test)."""
    escaped = json.loads(json.dumps(value).replace("$", "$$"))
    model = {"services": {"web": {"image": "nginx", key: escaped}}, "volumes": {"data": {}}}
    (tmp_path / "compose.json").write_text(json.dumps(model), encoding="utf-8")
    return oracle.run_config(["compose.json"], cwd=tmp_path, project_name="parsers").rc == 0


@pytest.mark.parametrize("value", SIZES)
def test_size_parser_matches_the_binary(tmp_path: Path, oracle: Oracle, value: str) -> None:
    ours = isinstance(parse_ram_size(value), int)
    assert ours == _accepted(tmp_path, oracle, "shm_size", value)


@pytest.mark.parametrize("value", DURATIONS)
def test_duration_parser_matches_the_binary(tmp_path: Path, oracle: Oracle, value: str) -> None:
    ours = duration_error(value) is None
    assert ours == _accepted(tmp_path, oracle, "stop_grace_period", value)


@pytest.mark.parametrize("value", PORTS)
def test_port_parser_matches_the_binary(tmp_path: Path, oracle: Oracle, value: str) -> None:
    model = {"services": {"web": {"image": "nginx", "ports": [value]}}}
    ours = not check_model(model, lambda p: Location(), project_dir=None)
    assert ours == _accepted(tmp_path, oracle, "ports", [value])


@pytest.mark.parametrize("value", VOLUMES)
def test_volume_parser_matches_the_binary(tmp_path: Path, oracle: Oracle, value: str) -> None:
    ours = not isinstance(parse_volume_spec(value), str)
    assert ours == _accepted(tmp_path, oracle, "volumes", [value])


@pytest.mark.parametrize("value", COMMANDS)
def test_command_splitting_matches_the_binary(tmp_path: Path, oracle: Oracle, value: str) -> None:
    ours = shell_words_error(value) is None
    assert ours == _accepted(tmp_path, oracle, "command", value)


def test_parsed_values() -> None:
    assert parse_ram_size("1.5g") == int(1.5 * (1 << 30))
    assert parse_ram_size("512 MiB") == 512 << 20
    assert parse_ram_size("10KB") == 10 << 10
    mapping = parse_port_spec("127.0.0.1:8000-8001:80-81/UDP")
    assert not isinstance(mapping, str)
    assert (mapping.host_ip, mapping.host_start, mapping.host_end, mapping.protocol) == (
        "127.0.0.1", 8000, 8001, "udp")
    spec = parse_volume_spec("C:\\data:/data:ro")
    assert not isinstance(spec, str)
    assert (spec.source, spec.target, spec.kind) == ("C:\\data", "/data", "bind")
    named = parse_volume_spec("data:/data")
    assert not isinstance(named, str) and named.kind == "volume"
