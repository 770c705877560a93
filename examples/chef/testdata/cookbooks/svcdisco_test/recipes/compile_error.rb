# frozen_string_literal: true

# A provider declared, then a compile error: nothing may be written.
svcdisco_provider 'web' do
  port 8080
end

provide_service('app', port: 9000)

raise 'svcdisco_test: a later compile error'
