module example.com/ecommerce/gateway

go 1.19
