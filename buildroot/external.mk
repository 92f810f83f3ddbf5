include $(sort $(wildcard $(BR2_EXTERNAL_CAMERASERVICE_PATH)/package/*/*.mk))
