# frozen_string_literal: true

module Svcdisco
  # Unit is the systemd unit of the agent, the node's boot hook: it
  # registers every provider in services_dir and deregisters them at
  # shutdown. Plain Ruby, so the tests can run its ExecStart.
  module Unit
    module_function

    def content(bin:, config_file:, services_dir:)
      <<~UNIT
        # Managed by Chef (cookbook svcdisco); local edits are overwritten.
        # svcdisco agent: the node's boot hook. Registers every provider declared in
        # #{services_dir} (svcdisco_provider writes them) and deregisters them at
        # shutdown. Registry settings: #{config_file}.
        [Unit]
        Description=svcdisco agent: register this node's services
        Wants=network-online.target
        After=network-online.target

        [Service]
        Type=simple
        ExecStart=#{bin} agent --config #{config_file} --config-dir #{services_dir}
        ExecReload=/bin/kill -HUP $MAINPID
        # SIGTERM deregisters every provider first, then exits 0.
        KillSignal=SIGTERM
        TimeoutStopSec=20
        # Exit 4 (registry unreachable at boot) or a crash: try again. A crashed
        # agent's providers vanish when its session expires (session_timeout).
        Restart=always
        RestartSec=2
        DynamicUser=yes
        ReadOnlyPaths=/etc/svcdisco
        # Exhibitor's last good answer is cached here (shared with Chef's calls).
        CacheDirectory=svcdisco
        Environment=XDG_CACHE_HOME=/var/cache

        [Install]
        WantedBy=multi-user.target
      UNIT
    end
  end
end
