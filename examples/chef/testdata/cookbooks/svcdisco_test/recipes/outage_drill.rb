# frozen_string_literal: true

# The converge of the outage drill (TestOutageDrill): discovery through the
# library (lazy, at converge time) and a `svcdisco render --once`, both
# allowed stale answers (node['svcdisco']['stale_ok'] and --stale-ok), so
# the run succeeds while the whole ensemble is down. What each step saw is
# written under node['svcdisco_test']['dir'] for the test to compare.
dir = node['svcdisco_test']['dir']
sd = node['svcdisco']

directory dir

file "#{dir}/backends.txt" do
  content(lazy { all_providers_for_service('web').map { |p| "#{p['address']}:#{p['port']}" }.join("\n") })
end

file "#{dir}/newest.txt" do
  content(lazy { provider_for_service('web', where: { 'zone' => 'a' })['host'] })
end

file "#{dir}/web.tmpl" do
  content "{{ range providers \"web\" }}{{ .Host }}:{{ .Port }}\n{{ end }}"
end

# render exits 6 when it rendered from the answer cache: a warning, not a
# failure, for a converge that asked for stale answers.
execute 'render web.conf' do
  command [sd['bin'], 'render', '--once', '--template', "#{dir}/web.tmpl:#{dir}/web.conf",
           '--registry', sd['registry'], '--root', sd['config']['root'],
           '--answer-cache', sd['config']['answer_cache'], '--timeout', sd['config']['timeout'],
           '--stale-ok', sd['stale_ok']]
  returns [0, 6]
  live_stream true
end

ruby_block 'record stale warnings' do
  block { File.write("#{dir}/stale.txt", Svcdisco.stale_warnings.join("\n")) }
end
