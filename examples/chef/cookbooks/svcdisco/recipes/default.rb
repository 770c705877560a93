# frozen_string_literal: true

#
# Cookbook:: svcdisco
# Recipe:: default
#
# Installs the svcdisco binary, writes /etc/svcdisco/svcdisco.yaml from
# node['svcdisco'], and runs `svcdisco agent` under systemd as the node's
# boot hook (it registers whatever provide_service declared).

sd = node['svcdisco']

case sd['install_method']
when 'url'
  raise "svcdisco: set node['svcdisco']['url'] (and checksum), or install_method 'package' or 'none'" if sd['url'].to_s.empty?

  remote_file sd['bin'] do
    source sd['url']
    checksum sd['checksum'] unless sd['checksum'].to_s.empty?
    mode '0755'
    notifies :restart, 'service[svcdisco-agent]', :delayed if sd['agent']['enabled']
  end
when 'package'
  package 'svcdisco' do
    notifies :restart, 'service[svcdisco-agent]', :delayed if sd['agent']['enabled']
  end
when 'none'
  nil
else
  raise "svcdisco: unknown install_method #{sd['install_method'].inspect}: want url, package or none"
end

directory ::File.dirname(sd['config_file']) do
  mode '0755'
end

directory sd['services_dir'] do
  mode '0755'
  recursive true
end

# svcdisco rejects unknown keys; `svcdisco version --config` checks the file
# without contacting the registry, so a bad attribute never replaces a good
# file.
file sd['config_file'] do
  content Svcdisco::Config.yaml(sd)
  mode '0644'
  verify "#{sd['bin']} version --config %{path}"
  notifies :restart, 'service[svcdisco-agent]', :delayed if sd['agent']['enabled']
end

unit = '/etc/systemd/system/svcdisco-agent.service'
template unit do
  source 'svcdisco-agent.service.erb'
  mode '0644'
  variables(bin: sd['bin'], config_file: sd['config_file'], services_dir: sd['services_dir'])
  notifies :run, 'execute[svcdisco systemctl daemon-reload]', :immediately
  notifies :restart, 'service[svcdisco-agent]', :delayed if sd['agent']['enabled']
  action sd['agent']['enabled'] ? :create : :delete
end

execute 'svcdisco systemctl daemon-reload' do
  command 'systemctl daemon-reload'
  action :nothing
end

service 'svcdisco-agent' do
  supports restart: true, reload: true, status: true
  action sd['agent']['enabled'] ? %i[enable start] : %i[stop disable]
end
