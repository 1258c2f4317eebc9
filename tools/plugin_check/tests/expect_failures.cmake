# Runs testino-plugin-check on contract_breaker.so and checks it fails exactly the checks
# the plugin breaks (and passes the one it keeps), with exit status 1.
#   cmake -DCHECK=<testino-plugin-check> -DPLUGIN=<contract_breaker.so> -P expect_failures.cmake
execute_process(COMMAND ${CHECK} ${PLUGIN}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output
                TIMEOUT 60)
message("${output}")
if(NOT status EQUAL 1)
  message(FATAL_ERROR "expected exit status 1 (a check failed), got ${status}")
endif()
set(expected_failures
  PluginDescriptor.HasASemanticVersionAndADescription
  PluginDescriptor.ConfigKeysHaveUniqueWellFormedNamesAndEnvironmentVariables
  PluginDescriptor.SecretKeysHaveNoDefault
  SmsProviderContract.SendToAValidNumberAnswersByTheDeadline
  SmsProviderContract.SendWithAPassedDeadlineAnswersAtOnce
  SmsProviderContract.ConcurrentSendsAllAnswerByTheDeadline
  SmsProviderContract.SendThroughEachOfferedChannelAnswersByTheDeadline
  SmsProviderContract.SecretsNeverShowInResultsHealthOrLogs)
foreach(test IN LISTS expected_failures)
  string(FIND "${output}" "[  FAILED  ] ${test} (" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected ${test} to fail")
  endif()
endforeach()
foreach(test PluginDescriptor.NameIsUsableInConfig
             PluginDescriptor.DeclaresItsChannels
             SmsProviderContract.OffersOnlyChannelsItsDescriptorDeclares
             SmsProviderContract.HealthAndMayBlockAnswerWithoutThrowing)
  string(FIND "${output}" "[       OK ] ${test} (" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected ${test} to pass")
  endif()
endforeach()
string(FIND "${output}" "testino-plugin-check: contract_breaker: FAIL: 5 passed, 8 failed, 0 skipped" at)
if(at EQUAL -1)
  message(FATAL_ERROR "expected the summary line \"... FAIL: 5 passed, 8 failed, 0 skipped\"")
endif()
