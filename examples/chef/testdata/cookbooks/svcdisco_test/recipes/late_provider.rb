# frozen_string_literal: true

# A provider of web that appears while the run converges (after every
# recipe compiled): a lazy {} lookup must see it, a compile-time one cannot.
# The registering process is left running; the test stops it.
ruby_block 'register a late provider of web' do
  block do
    settings = Svcdisco::Discovery.settings_from_node(node['svcdisco'], node.chef_environment)
    before = all_providers_for_service('web').size
    Process.spawn(settings[:env], settings[:bin], 'register', 'web', '--port', '8082',
                  '--host', 'late.example.com', '--address', '10.0.0.9',
                  in: File::NULL, out: File::NULL, err: File::NULL)
    # Polled rather than `at_least:, wait:`: a query whose wait starts while
    # the provider is being registered can miss it.
    deadline = Time.now + 60
    sleep 0.05 until all_providers_for_service('web').size > before || Time.now > deadline
  end
end
